#!/usr/bin/env bash
# Hostile input, bounded: schemathesis generates requests from /api/openapi.json against a
# running server (SQLite), authenticated as an admin and as a member, and fails on any 5xx,
# undocumented status or content type, response that breaks the schema, or schema-violating
# request that is accepted. Business rules that refuse schema-valid data (paying twice, a draw
# before everyone paid) are expected, so "positive data acceptance" is not checked.
# Usage: bash scripts/schemathesis.sh <path-to-saghat-binary> [max-examples]
set -euo pipefail
binary=${1:?usage: schemathesis.sh <saghat binary> [max-examples]}
examples=${2:-40}
version=4.32.5

if ! command -v schemathesis >/dev/null 2>&1 || ! schemathesis --version 2>/dev/null | grep -q "$version"; then
  python3 -m pip install --quiet "schemathesis==$version"
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
APP_ENV=test SAGHAT_DATA_DIR="$work" DATABASE_URL="sqlite://$work/st.db?mode=rwc" BIND="127.0.0.1:$port" \
  SAGHAT_ADMIN_USERNAME=admin SAGHAT_ADMIN_PASSWORD=admin-password-1 RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn \
  "$binary" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -fs "$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

token() {
  curl -fs -X POST "$base/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
admin=$(token admin admin-password-1)
curl -fs -X POST "$base/api/auth/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d '{"username":"member1","password":"member-password-1","loan_request_amount":"10"}' >/dev/null
member=$(token member1 member-password-1)

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection
passed=0 failed=0
for who in admin member; do
  if [ "$who" = admin ]; then tok=$admin; else tok=$member; fi
  echo "--- schemathesis as $who ($examples examples per operation)"
  if schemathesis run "$base/api/openapi.json" -H "Authorization: Bearer $tok" --max-examples "$examples" \
      --checks "$checks" --seed 1 --no-color; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "schemathesis: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
