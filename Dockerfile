# syntax=docker/dockerfile:1
# Saghat's production image: a release build, run as a non-root user on Debian slim.
#   docker build -t saghat .
#   docker run -p 8000:8000 -e SECRET_KEY=… -e JWT_SECRET_KEY=… -e BITPIN_API_KEY=… \
#     -e DATABASE_URL=postgres://… saghat
# compose.yml runs it behind nginx, with PostgreSQL, Redis and a separate worker.
# crates/saghat/tests/container.rs runs this file's ENTRYPOINT, CMD and HEALTHCHECK with the
# built binary, so keep them in the exec (JSON) form it reads.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# BuildKit caches keep the registry and the compiled dependencies between builds.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p saghat \
    && install -D -m 0755 target/release/saghat /out/saghat \
    && strip /out/saghat

FROM debian:bookworm-slim
# ca-certificates: Bitpin, Zarinpal, SMTP and OIDC over TLS; tzdata: FUND_TIMEZONE;
# curl: the health check (the image has no other HTTP client). Not pinned (DL3008): bookworm's
# security updates should reach every rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 saghat \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/saghat --create-home saghat \
    && install -d -o saghat -g saghat -m 0700 /var/lib/saghat/data /var/lib/saghat/files
COPY --from=build /out/saghat /usr/local/bin/saghat
# Numeric, so a runtime that checks for a non-root user can tell without /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/saghat
# prod: missing secrets stop start-up. The files directories are the volume several instances
# and the worker share (ATTACHMENTS_DIR, EXPORTS_DIR).
ENV APP_ENV=prod \
    BIND=0.0.0.0:8000 \
    SAGHAT_DATA_DIR=/var/lib/saghat/data \
    ATTACHMENTS_DIR=/var/lib/saghat/files/attachments \
    EXPORTS_DIR=/var/lib/saghat/files/exports \
    LOG_FORMAT=json
EXPOSE 8000
# /readyz: listening (after the migrations) and the database answers. The port is BIND's.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "curl -fsS -o /dev/null \"http://127.0.0.1:${BIND##*:}/readyz\""]
ENTRYPOINT ["saghat"]
CMD ["serve"]
