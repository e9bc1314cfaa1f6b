#!/usr/bin/env bash
# `make demo`: the full migration rehearsal under live traffic, plus the notification pipeline,
# on a local stack of its own (free ports, torn down at the end). Pass options with DEMO_ARGS,
# e.g. `make demo DEMO_ARGS="--rows 2000000"`.
set -euo pipefail
# shellcheck disable=SC2086
exec .venv/bin/ops demo rehearsal ${DEMO_ARGS:-}
