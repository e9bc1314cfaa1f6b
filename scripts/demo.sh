#!/usr/bin/env bash
# `make demo`: bring the local stack up on free ports, check each part, tear it down.
set -euo pipefail
ops=.venv/bin/ops
root=.sandbox/demo
trap '$ops sandbox down --root "$root" --purge' EXIT
$ops sandbox up --root "$root" --prod-port 0 --v2-port 0 --moto-port 0 --dynamodb-port 0
$ops sandbox env --root "$root"
