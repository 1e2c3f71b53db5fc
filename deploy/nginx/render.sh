#!/bin/sh
# Renders saghat.conf.template to stdout with envsubst, substituting only the SAGHAT_*
# variables listed here (nginx's own $host, $request_uri… are left alone), with defaults.
#   SAGHAT_SERVER_NAME=fund.example SAGHAT_UPSTREAMS='server 10.0.0.11:8000; server 10.0.0.12:8000;' \
#   SAGHAT_TLS_CERT=/etc/letsencrypt/live/fund.example/fullchain.pem \
#   SAGHAT_TLS_KEY=/etc/letsencrypt/live/fund.example/privkey.pem \
#     deploy/nginx/render.sh > /etc/nginx/conf.d/saghat.conf
set -eu
: "${SAGHAT_SERVER_NAME:?set SAGHAT_SERVER_NAME (the public host name)}"
: "${SAGHAT_UPSTREAMS:?set SAGHAT_UPSTREAMS (server host:port; lines, one per instance)}"
: "${SAGHAT_TLS_CERT:?set SAGHAT_TLS_CERT (certificate chain, PEM)}"
: "${SAGHAT_TLS_KEY:?set SAGHAT_TLS_KEY (private key, PEM)}"
export SAGHAT_HTTP_PORT="${SAGHAT_HTTP_PORT:-80}"
export SAGHAT_HTTPS_PORT="${SAGHAT_HTTPS_PORT:-443}"
# What the redirect appends to the host name: nothing on 443.
if [ -z "${SAGHAT_HTTPS_PORT_SUFFIX+set}" ]; then
  if [ "$SAGHAT_HTTPS_PORT" = 443 ]; then SAGHAT_HTTPS_PORT_SUFFIX=""; else SAGHAT_HTTPS_PORT_SUFFIX=":$SAGHAT_HTTPS_PORT"; fi
fi
export SAGHAT_HTTPS_PORT_SUFFIX
# Saghat's defaults: MAX_BODY_BYTES, ATTACHMENT_MAX_BYTES + 16 KiB of form, RATE_LIMIT_PER_MINUTE.
export SAGHAT_MAX_BODY_BYTES="${SAGHAT_MAX_BODY_BYTES:-65536}"
export SAGHAT_UPLOAD_MAX_BODY_BYTES="${SAGHAT_UPLOAD_MAX_BODY_BYTES:-10502144}"
export SAGHAT_RATE_PER_MINUTE="${SAGHAT_RATE_PER_MINUTE:-1200}"
export SAGHAT_RATE_BURST="${SAGHAT_RATE_BURST:-200}"
export SAGHAT_CACHE_DIR="${SAGHAT_CACHE_DIR:-/var/cache/nginx/saghat}"
export SAGHAT_ACCESS_LOG="${SAGHAT_ACCESS_LOG:-/var/log/nginx/saghat.access.log}"
export SAGHAT_SERVER_NAME SAGHAT_UPSTREAMS SAGHAT_TLS_CERT SAGHAT_TLS_KEY
exec envsubst '${SAGHAT_SERVER_NAME} ${SAGHAT_UPSTREAMS} ${SAGHAT_TLS_CERT} ${SAGHAT_TLS_KEY}
${SAGHAT_HTTP_PORT} ${SAGHAT_HTTPS_PORT} ${SAGHAT_HTTPS_PORT_SUFFIX} ${SAGHAT_MAX_BODY_BYTES}
${SAGHAT_UPLOAD_MAX_BODY_BYTES} ${SAGHAT_RATE_PER_MINUTE} ${SAGHAT_RATE_BURST}
${SAGHAT_CACHE_DIR} ${SAGHAT_ACCESS_LOG}' < "$(dirname "$0")/saghat.conf.template"
