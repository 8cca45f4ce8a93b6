#!/usr/bin/env bash
# tern against Postfix, side by side on this machine, in the same run.
#
# Both relay to the same counting sink on loopback (tests/bench/count_sink):
# Postfix as a plain relay (own instance under a scratch dir, smtpd on a
# loopback port, relayhost = the sink, no local delivery, queue fsyncs as
# shipped), tern in relayhost mode to the same sink (250 only after fsync, as
# always). Postfix's smtp-source drives each in turn, alternating, for 4 KiB
# and 100 KiB messages at 1, 8 and 32 connections, three times each; the
# table shows medians and the ratio tern/Postfix. Then tern alone: peak RSS
# with 100,000 messages queued (sink down) and the ingest/end-to-end rate with
# 1,000 vs 100,000 already queued.
#
# Needs root (Postfix's master). Installs Postfix and the build dependencies
# when missing and builds a Release tree in build-bench/.
#
# Usage: tests/bench/relay_vs_postfix.sh [--quick] [--reps N] [--no-scale | --no-compare] [--markdown FILE]
#   --quick      fewer messages per run (a smoke test of the script, not a result)
#   --markdown   also append the result tables, with the date and machine, to FILE
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"

if [ "$(id -u)" -ne 0 ]; then
  echo "relay_vs_postfix.sh: needs root (Postfix's master runs as root)" >&2
  exit 77
fi
scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERN_BENCH=ON -DTERN_TESTS=OFF >/dev/null
cmake --build build-bench --target tern count_sink >/dev/null
exec /usr/bin/python3 "$src/tests/bench/relay_vs_postfix.py" --tern "$src/build-bench/tern" \
  --sink "$src/build-bench/bench/count_sink" "$@"
