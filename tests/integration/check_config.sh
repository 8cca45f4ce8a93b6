#!/usr/bin/env bash
# `tern check-config` end to end: config files and TERN_* variables in a
# scratch directory, exit codes 0 and 1, TOML output that loads again, JSON
# output that parses, and errors on stderr that name the key and its origin.
set -euo pipefail

: "${TERNTEST_BIN:?TERNTEST_BIN must point at the tern binary}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# TERN_* variables from the caller would change every answer below.
while read -r name; do unset "$name"; done < <(env | sed -n 's/^\(TERN_[A-Za-z0-9_]*\)=.*/\1/p')

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run NAME EXPECTED_RC [ENV=VALUE...] -- ARGS...: runs tern, keeps stdout/stderr in $work/NAME.{out,err}
run() {
  local name=$1 want=$2; shift 2
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  local rc=0
  env "${envs[@]}" "$TERNTEST_BIN" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  if [ "$rc" != "$want" ]; then
    fail "$name: exit $rc, want $want; stderr:"; cat "$work/$name.err" >&2
  fi
}
expect_in() {  # expect_in NAME FILE-SUFFIX FIXED-STRING
  grep -qF -- "$3" "$work/$1.$2" || { fail "$1: $2 lacks: $3"; sed 's/^/    /' "$work/$1.$2" >&2; }
}
expect_json() {  # stdout of NAME parses as JSON and the Python expression holds
  /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($2) else 1)" <"$work/$1.out" ||
    fail "$1: JSON check failed: $2"
}

cat >"$work/good.toml" <<'EOF'
hostname = "relay.example.com"
spool = "/var/spool/tern"

[submission]
listen = ["127.0.0.1:2525", "[::1]:2525"]
trusted_networks = ["10.0.0.0/8"]
max_message_size = "10MiB"

[delivery]
workers = 8
retry_schedule = ["1m", "1h20m"]

[metrics]
listen = ""
EOF

# A good file: TOML on stdout, exit 0.
run good 0 -- check-config --config "$work/good.toml"
expect_in good out 'hostname = "relay.example.com"'
expect_in good out 'listen                     = ["127.0.0.1:2525", "[::1]:2525"]'
expect_in good out 'max_message_size           = 10485760'
expect_in good out 'retry_schedule             = ["1m", "1h20m"]'
expect_in good out 'idle_timeout               = "5m"'
expect_in good out "# tern effective configuration; source: $work/good.toml"
[ -s "$work/good.err" ] && fail "good: unexpected stderr: $(cat "$work/good.err")"

# Its output is itself a config that loads to the same output.
cp "$work/good.out" "$work/again.toml"
run again 0 -- check-config --config "$work/again.toml"
diff <(tail -n +2 "$work/good.out") <(tail -n +2 "$work/again.out") >&2 || fail "again: output changed on reload"

# JSON: parses, same keys, durations as strings.
run json 0 -- check-config --config "$work/good.toml" --json
expect_json json 'd["hostname"] == "relay.example.com" and d["delivery"]["workers"] == 8'
expect_json json 'd["delivery"]["retry_schedule"] == ["1m", "1h20m"] and d["submission"]["idle_timeout"] == "5m"'
expect_json json 'd["metrics"]["listen"] == "" and d["submission"]["max_message_size"] == 10485760'
expect_json json 'sorted(d) == ["delivery", "dns", "hostname", "metrics", "spool", "submission"]'

# Env overrides the file; lists are comma-separated.
run env 0 TERN_DELIVERY_WORKERS=16 "TERN_SUBMISSION_TRUSTED_NETWORKS=172.16.0.0/12, fd00::/8" -- \
  check-config --config "$work/good.toml" --json
expect_json env 'd["delivery"]["workers"] == 16'
expect_json env 'd["submission"]["trusted_networks"] == ["172.16.0.0/12", "fd00::/8"]'

# No file at all (unless this machine has one): defaults plus env.
if [ ! -e /etc/tern/tern.toml ]; then
  run defaults 0 TERN_HOSTNAME=relay.example.org -- check-config --json
  expect_json defaults 'd["hostname"] == "relay.example.org" and d["submission"]["listen"] == ["0.0.0.0:587"]'
  expect_json defaults 'd["delivery"]["max_queue_lifetime"] == "5d" and d["metrics"]["listen"] == "127.0.0.1:9464"'
fi

# Errors: exit 1, "tern: " and the key on stderr, nothing on stdout.
run missing 1 -- check-config --config "$work/missing.toml"
expect_in missing err "tern: cannot read config file $work/missing.toml: No such file or directory"

printf '[delivery]\nworkers = 0\n' >"$work/range.toml"
run range 1 -- check-config --config "$work/range.toml"
expect_in range err "tern: delivery.workers: must be 1..256, got 0 (in $work/range.toml:2)"
[ -s "$work/range.out" ] && fail "range: printed a config despite the error"

run range_env 1 TERN_DELIVERY_WORKERS=0 -- check-config --config "$work/good.toml"
expect_in range_env err "tern: delivery.workers: must be 1..256, got 0 (from TERN_DELIVERY_WORKERS)"

printf '[submission]\nlistn = ["0.0.0.0:587"]\n' >"$work/typo.toml"
run typo 1 -- check-config --config "$work/typo.toml"
expect_in typo err "tern: unknown key submission.listn in $work/typo.toml:2 (did you mean submission.listen?)"

run unknown_env 1 TERN_DELIVERY_WORKRES=4 -- check-config --config "$work/good.toml"
expect_in unknown_env err "tern: unknown environment variable TERN_DELIVERY_WORKRES (did you mean TERN_DELIVERY_WORKERS?)"

printf '[delivery]\nworkers = "4"\n' >"$work/type.toml"
run type 1 -- check-config --config "$work/type.toml"
expect_in type err "tern: delivery.workers: expected an integer, got a string (in $work/type.toml:2)"

printf 'hostname = "a"\n\n[delivery\nworkers = 4\n' >"$work/syntax.toml"
run syntax 1 -- check-config --config "$work/syntax.toml" --json
expect_in syntax err "tern: $work/syntax.toml:3:"

# Several problems: one line each.
printf '[delivery]\nworkers = 0\nsmtp_port = 0\ntls = "yes"\n' >"$work/many.toml"
run many 1 -- check-config --config "$work/many.toml"
[ "$(grep -c '^tern: ' "$work/many.err")" = 3 ] || { fail "many: want 3 error lines"; cat "$work/many.err" >&2; }

# TLS files are checked for existence.
printf '[submission]\ntls_cert = "%s/cert.pem"\ntls_key = "%s/key.pem"\n' "$work" "$work" >"$work/tls.toml"
run tls_missing 1 -- check-config --config "$work/tls.toml"
expect_in tls_missing err "tern: submission.tls_cert: cannot read \"$work/cert.pem\": No such file or directory"
touch "$work/cert.pem" "$work/key.pem"
run tls_present 0 -- check-config --config "$work/tls.toml"

if [ "$failures" -ne 0 ]; then
  echo "check_config: $failures failure(s)" >&2
  exit 1
fi
echo "check_config: all passed"
