#!/usr/bin/env bash
# End-to-end throughput of tern: smtp-source submits N messages of SIZE bytes
# over CONC connections from a trusted address, tern serve (relayhost mode, no
# TLS) relays them to Postfix's smtp-sink, and the clock runs from the start of
# smtp-source until tern_deliveries_total{result="delivered"} reaches N.
# Prints one line per run and the median messages/s. Not part of ctest.
#
#   cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERN_TESTS=OFF
#   cmake --build build-rel --target tern
#   tests/bench/delivery_e2e.sh build-rel/tern 3
#
# Needs smtp-source and smtp-sink (apt-get install postfix) and curl. Runs as
# root (smtp-sink -u nobody) or as any user (drop -u).
set -euo pipefail

TERN=${1:-build-rel/tern}
RUNS=${2:-3}
N=${N:-20000}
SIZE=${SIZE:-4096}
CONC=${CONC:-32}
DEADLINE=${DEADLINE:-900}   # seconds per run before giving up

TERN=$(readlink -f "$TERN")
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
proc_jiffies() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
delivered() { curl -sf "http://127.0.0.1:$1/metrics" | awk '/^tern_deliveries_total\{result="delivered"\}/{print int($2)}'; }
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
unset_tern=()
for v in $(env | grep -o '^TERN_[A-Z_]*' || true); do unset_tern+=(-u "$v"); done

rates=()
for run in $(seq 1 "$RUNS"); do
  work=$(mktemp -d /tmp/tern-bench.XXXXXX)
  sink_port=$(free_port); sub_port=$(free_port); met_port=$(free_port)
  /usr/sbin/smtp-sink "${sink_user[@]}" -c "127.0.0.1:$sink_port" 1000 >"$work/sink.out" 2>&1 &
  sink_pid=$!
  cat >"$work/tern.toml" <<EOF
hostname = "relay.bench"
spool = "$work/spool"
[submission]
listen = ["127.0.0.1:$sub_port"]
trusted_networks = ["127.0.0.0/8"]
[delivery]
mode = "relayhost"
relayhost = "127.0.0.1:$sink_port"
relayhost_tls = "none"
[metrics]
listen = "127.0.0.1:$met_port"
EOF
  env "${unset_tern[@]}" "$TERN" serve --config "$work/tern.toml" 2>"$work/tern.log" &
  tern_pid=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$met_port/readyz" >/dev/null && break; sleep 0.05; done
  read -r busy0 total0 < <(busy_jiffies)
  load0=$(cut -d' ' -f1 /proc/loadavg)
  tern0=$(proc_jiffies "$tern_pid")
  start=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$work/source.time" \
    /usr/sbin/smtp-source -c -l "$SIZE" -m "$N" -s "$CONC" -f a@src.test -t b@example.test "127.0.0.1:$sub_port" \
    >"$work/source.out" 2>&1
  submitted=$(date +%s.%N)
  limit=$(( $(date +%s) + DEADLINE ))
  while [ "$(delivered "$met_port" || echo 0)" -lt "$N" ]; do
    if [ "$(date +%s)" -ge "$limit" ]; then echo "run $run: not all delivered after ${DEADLINE}s" >&2; break; fi
    sleep 0.1
  done
  end=$(date +%s.%N)
  read -r busy1 total1 < <(busy_jiffies)
  tern1=$(proc_jiffies "$tern_pid")
  sink1=$(proc_jiffies "$sink_pid")
  source1=$(awk '{printf "%d", ($1 + $2) * 100}' "$work/source.time")
  got=$(delivered "$met_port" || echo 0)
  kill -TERM "$tern_pid"; wait "$tern_pid" || true
  kill -TERM "$sink_pid"; wait "$sink_pid" 2>/dev/null || true
  awk -v n="$got" -v s="$start" -v m="$submitted" -v e="$end" -v b0="$busy0" -v b1="$busy1" -v t0="$total0" \
      -v t1="$total1" -v j0="$tern0" -v j1="$tern1" -v k="$sink1" -v q="$source1" -v l="$load0" -v run="$run" \
      -v ncpu="$(nproc)" 'BEGIN {
    printf "run %d: %d delivered in %.2fs = %.0f msg/s (submission done after %.2fs = %.0f msg/s); " \
           "CPU busy %.0f%% of %d cores: tern %.1f, smtp-source %.1f, smtp-sink %.1f, other processes %.1f CPU-s; " \
           "loadavg before %s\n",
           run, n, e - s, n / (e - s), m - s, n / (m - s), 100 * (b1 - b0) / (t1 - t0), ncpu,
           (j1 - j0) / 100, q / 100, k / 100, ((b1 - b0) - (j1 - j0) - k - q) / 100, l }'
  rates+=("$(awk -v n="$got" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }')")
  rm -rf "$work"
done
printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {printf "median of %d runs: %s msg/s\n", NR, a[int((NR+1)/2)]}'
