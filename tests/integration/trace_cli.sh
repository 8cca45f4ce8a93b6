#!/usr/bin/env bash
# `tern trace` end to end: the table, --json and --dot on the Received:
# fixtures, from a file and from stdin, with LF and CRLF line ends, and the
# exit codes (65 no Received: fields, 66 unreadable input, 64 bad usage).
set -euo pipefail

bin=${TERNTEST_BIN:?TERNTEST_BIN must name the tern binary}
fixtures=${TERNTEST_SOURCE_DIR:?TERNTEST_SOURCE_DIR must name the source tree}/tests/smtp/fixtures/received
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# expect_rc WANT CMD...: runs CMD, stdout to $work/out, stderr to $work/err.
expect_rc() {
  local want=$1
  shift
  local rc=0
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "$* exited $rc, want $want (stderr: $(cat "$work/err"))"
}

# --- the table --------------------------------------------------------------
expect_rc 0 "$bin" trace "$fixtures/multi_hop.eml"
cat >"$work/want" <<'EOF'
1  2025-11-25T09:59:58Z  -       ? -> app.example.com                                       ?        4ZxY1q0B6Kz8rSl
2  2025-11-25T10:00:00Z  +2s     app.example.com [192.0.2.10] -> relay.example.com          ESMTPSA  01J9Z3ABCDEF
3  2025-11-25T09:59:59Z  -1s     relay.example.com [198.51.100.5] -> smarthost.example.net  esmtps   1tFoo-000ABC-2x
4  2025-11-25T10:00:04Z  +5s     smarthost.example.net [203.0.113.9] -> mx.google.com       ESMTPS   5b1f17b1804b1-47a1b2c3d4esi1234567f9.55.2025.11.25.02.00.04
5  2025-11-25T10:01:09Z  +1m05s  ? -> 2002:a05:6a10:8e0b:b0:5c5:1a2b:3c4d                   SMTP     x12csp1234567pxc
EOF
diff -u "$work/want" "$work/out" || fail "table of multi_hop.eml differs"
[ -s "$work/err" ] && fail "table of multi_hop.eml wrote to stderr: $(cat "$work/err")"
if grep -q $'\e' "$work/out"; then fail "table holds escape codes"; fi

# The same from stdin, and with the other line ends.
"$bin" trace <"$fixtures/multi_hop.eml" >"$work/stdin" || fail "trace from stdin failed"
cmp -s "$work/out" "$work/stdin" || fail "stdin and file give different tables"
"$bin" trace - <"$fixtures/multi_hop.eml" >"$work/dash" || fail "trace - failed"
cmp -s "$work/out" "$work/dash" || fail "'-' and file give different tables"
for f in "$fixtures"/*.eml; do
  name=$(basename "$f")
  "$bin" trace "$f" >"$work/native" || fail "$name: trace failed"
  sed 's/\r$//' "$f" | "$bin" trace >"$work/lf" || fail "$name: LF trace failed"
  sed 's/\r$//; s/$/\r/' "$f" | "$bin" trace >"$work/crlf" || fail "$name: CRLF trace failed"
  cmp -s "$work/native" "$work/lf" || fail "$name: LF output differs"
  cmp -s "$work/native" "$work/crlf" || fail "$name: CRLF output differs"
done

# --- JSON ---------------------------------------------------------------------
for f in "$fixtures"/*.eml; do
  "$bin" trace --json "$f" >"$work/$(basename "$f").json" || fail "$(basename "$f"): --json failed"
done
"$py" - "$work" <<'EOF' || fail "JSON checks"
import glob, json, os, sys
work = sys.argv[1]
keys = ["from", "by", "with", "id", "timestamp", "delay_seconds"]
bad = 0
for path in sorted(glob.glob(os.path.join(work, "*.eml.json"))):
    hops = json.load(open(path))
    if not isinstance(hops, list) or not hops:
        print(path, "is not a non-empty array"); bad += 1; continue
    for i, hop in enumerate(hops):
        if list(hop.keys()) != keys:
            print(path, i, "keys", list(hop.keys())); bad += 1
        for k in ["from", "by", "with", "id", "timestamp"]:
            if hop[k] is not None and not isinstance(hop[k], str):
                print(path, i, k, "is neither string nor null"); bad += 1
        d = hop["delay_seconds"]
        if i == 0 and d is not None:
            print(path, "first hop has a delay"); bad += 1
        if d is not None and not isinstance(d, int):
            print(path, i, "delay_seconds is not an integer"); bad += 1
hops = json.load(open(os.path.join(work, "multi_hop.eml.json")))
want = [
    (None, "app.example.com", None, "4ZxY1q0B6Kz8rSl", "2025-11-25T09:59:58Z", None),
    ("app.example.com [192.0.2.10]", "relay.example.com", "ESMTPSA", "01J9Z3ABCDEF", "2025-11-25T10:00:00Z", 2),
    ("relay.example.com [198.51.100.5]", "smarthost.example.net", "esmtps", "1tFoo-000ABC-2x", "2025-11-25T09:59:59Z", -1),
    ("smarthost.example.net [203.0.113.9]", "mx.google.com", "ESMTPS",
     "5b1f17b1804b1-47a1b2c3d4esi1234567f9.55.2025.11.25.02.00.04", "2025-11-25T10:00:04Z", 5),
    (None, "2002:a05:6a10:8e0b:b0:5c5:1a2b:3c4d", "SMTP", "x12csp1234567pxc", "2025-11-25T10:01:09Z", 65),
]
got = [tuple(h[k] for k in keys) for h in hops]
if got != want:
    print("multi_hop.eml:", got); bad += 1
broken = json.load(open(os.path.join(work, "broken.eml.json")))
if len(broken) != 6 or [h["timestamp"] is None for h in broken] != [False, False, True, True, True, False]:
    print("broken.eml:", broken); bad += 1
sys.exit(1 if bad else 0)
EOF

# --- Graphviz -----------------------------------------------------------------
expect_rc 0 "$bin" trace --dot "$fixtures/multi_hop.eml"
"$py" - "$work/out" <<'EOF' || fail "dot output shape"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
ok = lines[0] == "digraph received {" and lines[-1] == "}"
edges = [l for l in lines if re.fullmatch(r'  n\d+ -> n\d+ \[label="[^"]*"\];', l)]
nodes = [l for l in lines if re.fullmatch(r'  n\d+ \[label="[^"]*"\];', l)]
labels = [re.search(r'label="([^"]*)"', l).group(1) for l in edges]
ok = ok and len(edges) == 5 and labels == ["-", "+2s", "-1s", "+5s", "+1m05s"]
# One chain: each hop starts where the previous one ended.
pairs = [re.match(r"  (n\d+) -> (n\d+)", l).groups() for l in edges]
ok = ok and all(pairs[i][0] == pairs[i - 1][1] for i in range(1, len(pairs)))
ok = ok and len(nodes) == 6 and all(l.count("{") == 0 for l in lines[1:-1])
if not ok:
    print("\n".join(lines))
sys.exit(0 if ok else 1)
EOF

# --- exit codes -----------------------------------------------------------------
printf 'Subject: no trace fields\r\n\r\nReceived: from body by body\r\n' >"$work/none.eml"
expect_rc 65 "$bin" trace "$work/none.eml"
[ "$(cat "$work/err")" = "tern trace: no Received: header fields found" ] || fail "wrong message: $(cat "$work/err")"
[ -s "$work/out" ] && fail "nothing belongs on stdout when there are no hops"
expect_rc 65 "$bin" trace --json "$work/none.eml"
expect_rc 65 "$bin" trace --dot "$work/none.eml"
: >"$work/empty.eml"
expect_rc 65 "$bin" trace "$work/empty.eml"
expect_rc 65 "$bin" trace </dev/null
expect_rc 66 "$bin" trace "$work/does-not-exist.eml"
grep -q "does-not-exist.eml" "$work/err" || fail "the missing file is not named: $(cat "$work/err")"
expect_rc 66 "$bin" trace "$work"
if [ "$(id -u)" -ne 0 ]; then  # root reads anything
  cp "$fixtures/tern.eml" "$work/secret.eml" && chmod 000 "$work/secret.eml"
  expect_rc 66 "$bin" trace "$work/secret.eml"
fi
expect_rc 64 "$bin" trace --json --dot "$fixtures/tern.eml"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "trace_cli: all checks passed"
