#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: run.sh BINARY SEED_DIR.
# The seeds are copied to a scratch corpus so the checkout stays clean.
set -euo pipefail
bin=$1 seeds=$2
seconds=${TERNTEST_FUZZ_SECONDS:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
cd "$work"
exec "$bin" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 corpus
