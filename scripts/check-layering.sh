#!/usr/bin/env bash
# The layering of docs/ARCHITECTURE.md, checked: the crate graph (core has no HTTP server, no
# templates; only saghat depends on http) and no import cycle between the modules of a crate.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
for banned in axum askama utoipa-axum utoipa-swagger-ui; do
  if cargo tree --locked -p saghat-core -e normal -i "$banned" >/dev/null 2>&1; then
    echo "saghat-core depends on $banned:"; cargo tree --locked -p saghat-core -e normal -i "$banned"; fail=1
  fi
done
if cargo tree --locked -p saghat-http -e normal -i saghat >/dev/null 2>&1; then
  echo "saghat-http depends on the saghat binary crate"; fail=1
fi
for crate in crates/*/src; do
  python3 scripts/module_cycles.py "$crate" || fail=1
done
exit $fail
