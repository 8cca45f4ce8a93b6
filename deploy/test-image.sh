#!/usr/bin/env bash
# Builds the Docker image and runs it for real, without a Docker engine:
# a debian:bookworm-slim base made offline (debootstrap from the Debian
# mirror, `podman import`, tagged so the Dockerfile's unchanged FROM
# resolves), `podman build --isolation chroot`, `podman run` with runc and
# lowered ulimits (../shared/RECIPES.md §1). Then it checks what an operator
# relies on: tern runs as the unprivileged user and binds a privileged port,
# a message submitted with swaks through the container reaches an smtp-sink
# on the host, `sendmail` inside the container submits too, the HEALTHCHECK
# passes, and SIGTERM stops tern with exit code 0. A second container runs
# as the README's "Docker" section says (smarthost: relayhost with STARTTLS,
# AUTH and a password file, spool volume, `tern user add`) against an aiosmtpd
# relayhost on the host that demands TLS and AUTH.
# Needs root. The base image and the Dockerfile's package stages stay cached
# in podman's store between runs (tagged localhost/tern-cache:*); older build
# layers are pruned, so the store does not grow run after run.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "deploy/test-image.sh needs root (debootstrap, podman with runc)" >&2
  exit 77
fi
for tool in podman debootstrap runc swaks /usr/sbin/smtp-sink /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/install-deps.sh" >&2; exit 1; }
done

# One run at a time per machine: runs share podman's store, the cache tags
# and the prune below, which could take layers from under a concurrent build.
exec 9>/var/tmp/tern-image-test.lock
flock 9

work=$(mktemp -d /var/tmp/tern-image.XXXXXX)
chmod 0755 "$work"  # smtp-sink runs as nobody and writes below it
image=localhost/tern:test
container=tern-image-test-$$
smarthost=tern-image-smarthost-$$
volume=tern-image-spool-$$
sink_pid=""
relayhost_pid=""
cleanup() {
  podman rm -f -v "$container" >/dev/null 2>&1 || true
  podman rm -f -v "$smarthost" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  [ -n "$relayhost_pid" ] && kill "$relayhost_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '== %s (%ss)\n' "$*" "$SECONDS"; }
fail() {
  echo "FAIL: $*" >&2
  for c in "$container" "$smarthost"; do
    if podman container exists "$c" 2>/dev/null; then
      echo "--- log of $c" >&2
      podman logs "$c" 2>&1 | tail -30 >&2
    fi
  done
  exit 1
}
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A free port below 1024 on loopback, to prove the unprivileged user can bind one (587 in production).
free_low_port() {
  /usr/bin/python3 -c '
import random, socket
for p in random.sample(range(600, 1024), 424):
    try:
        s = socket.socket(); s.bind(("127.0.0.1", p)); s.close(); print(p); break
    except OSError:
        pass'
}
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for $what"
    sleep 0.1
  done
}

export CONTAINERS_CONF=$work/containers.conf
cat > "$CONTAINERS_CONF" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF

if ! podman image exists docker.io/library/debian:bookworm-slim; then
  step "making debian:bookworm-slim with debootstrap"
  mirror=$(awk 'tolower($1)=="uris:"{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  tar -C "$work/rootfs" --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' \
      --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' --exclude='./usr/share/locale/*' -c . \
    | podman import - localhost/debian:bookworm-slim >/dev/null 2>&1
  podman tag localhost/debian:bookworm-slim docker.io/library/debian:bookworm-slim
  rm -rf "$work/rootfs"
fi

# --format docker: the OCI image format has no HEALTHCHECK.
build() { podman build --isolation chroot --pull=never --format docker "$@" "$src" >>"$work/build.log" 2>&1; }
step "building the image"
build --target build-deps -t localhost/tern-cache:build-deps || { tail -40 "$work/build.log"; fail "build"; }
build --target runtime -t localhost/tern-cache:runtime || { tail -40 "$work/build.log"; fail "build"; }
build -t "$image" || { tail -40 "$work/build.log"; fail "build"; }
podman image prune -f >/dev/null  # earlier runs' build layers; the tagged caches stay
[ "$(podman image inspect -f '{{.Config.User}}' "$image")" = tern ] || fail "the image's USER is not tern"
podman image inspect -f '{{.Config.Healthcheck.Test}}' "$image" | grep -q tern-healthcheck \
  || fail "the image has no HEALTHCHECK"

step "starting a sink on the host"
sink_port=$(free_port)
mkdir -p "$work/sink"
chown nobody "$work/sink"
/usr/sbin/smtp-sink -u nobody -d "$work/sink/%M." "127.0.0.1:$sink_port" 100 >"$work/sink.log" 2>&1 &
sink_pid=$!
wait_for 10 "smtp-sink" bash -c "exec 3<>/dev/tcp/127.0.0.1/$sink_port" 2>/dev/null

step "running the container"
port=$(free_port)
low_port=$(free_low_port)
metrics=$(free_port)
[ -n "$low_port" ] || fail "no free port below 1024 on 127.0.0.1"
# No systemd here to run podman's healthcheck timer (podman complains about
# that into podman.log): the check is run by hand below.
podman run -d --name "$container" --network host --health-interval disable \
  -e TERN_HOSTNAME=relay.image.test \
  -e TERN_SUBMISSION_LISTEN="127.0.0.1:$port,127.0.0.1:$low_port" \
  -e TERN_METRICS_LISTEN="127.0.0.1:$metrics" \
  -e TERN_SUBMISSION_TRUSTED_NETWORKS=127.0.0.0/8 \
  -e TERN_DELIVERY_MODE=relayhost \
  -e TERN_DELIVERY_RELAYHOST="127.0.0.1:$sink_port" \
  -e TERN_DELIVERY_RELAYHOST_TLS=none \
  "$image" >/dev/null 2>>"$work/podman.log" || { cat "$work/podman.log"; fail "podman run"; }
listening() {  # listening CONTAINER PORT
  [ "$(podman inspect -f '{{.State.Running}}' "$1")" = true ] || fail "the container $1 exited"
  (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null
}
wait_for 20 "tern to listen on 127.0.0.1:$low_port" listening "$container" "$low_port"

step "checking the user"
uid=$(podman exec "$container" cat /proc/1/status | awk '$1 == "Uid:" {print $2}')
[ "$uid" = 10001 ] || fail "tern (pid 1) runs as uid $uid, not 10001 (tern)"
[ "$(podman exec "$container" id -un)" = tern ] || fail "exec user is not tern"

step "submitting through the container"
marker="image-test-$$-$RANDOM"
swaks --server "127.0.0.1:$low_port" --from app@src.test --to user@dest.test \
  --header "X-Marker: $marker" --timeout 20 >"$work/swaks.log" 2>&1 \
  || { cat "$work/swaks.log"; fail "swaks through the container"; }
grep -q "queued as" "$work/swaks.log" || fail "no queue id in the 250 reply"
arrived() { grep -rqs "$1" "$work/sink"; }
wait_for 30 "the swaks message at the sink" arrived "$marker"
echo "delivered to the sink: $(grep -rls "$marker" "$work/sink" | head -1)"

step "sendmail inside the container"
marker2="image-sendmail-$$-$RANDOM"
printf 'To: someone@dest.test\nSubject: from sendmail\nX-Marker: %s\n\nhello\n' "$marker2" \
  | podman exec -i "$container" /usr/sbin/sendmail -t -i \
  || fail "sendmail in the container exited $?"
wait_for 30 "the sendmail message at the sink" arrived "$marker2"
grep -rlsZ "$marker2" "$work/sink" | xargs -0 grep -q 'tern@relay.image.test' \
  || fail "sendmail's message does not name its sender tern@relay.image.test"

step "healthcheck"
podman healthcheck run "$container" || fail "the HEALTHCHECK failed"
code=$(podman exec "$container" /usr/local/bin/tern-healthcheck >/dev/null; echo $?)
[ "$code" = 0 ] || fail "tern-healthcheck exited $code"

step "SIGTERM"
podman stop -t 20 "$container" >/dev/null 2>>"$work/podman.log"
code=$(podman inspect -f '{{.State.ExitCode}}' "$container")
[ "$code" = 0 ] || fail "tern exited $code on SIGTERM"
podman logs "$container" 2>&1 | grep -q 'event=stopped' || fail "no event=stopped in the log"

step "the README's smarthost: relayhost with STARTTLS + AUTH"
mkdir -p "$work/relayhost" "$work/secrets"
# An aiosmtpd relayhost that wants STARTTLS, then AUTH as relay-user; each
# message lands in relayhost/msg-N, its first line saying whether TLS and AUTH were used.
/usr/bin/python3 - "$src/tests/integration/lib" "$work/relayhost" >"$work/relayhost.log" 2>&1 <<'PY' &
import os, sys, time
sys.path.insert(0, sys.argv[1])
from ternlib import Sink, make_cert
out = sys.argv[2]
cert, key = make_cert(out, "relayhost.test", sans=("127.0.0.1",))
sink = Sink(tls=(cert, key), auth={"relay-user": "relay-secret"}).start()
with open(os.path.join(out, "port.tmp"), "w") as f:
    f.write(str(sink.port))
os.rename(os.path.join(out, "port.tmp"), os.path.join(out, "port"))
written = 0
while True:
    with sink.lock:
        new = sink.messages[written:]
    for m in new:
        with open(os.path.join(out, f"msg-{written}"), "wb") as f:
            f.write(f"tls={m['tls']} auth={m['auth']} from={m['mail_from']}\n".encode() + m["data"])
        written += 1
    time.sleep(0.05)
PY
relayhost_pid=$!
wait_for 20 "the relayhost" test -s "$work/relayhost/port"
relayhost_port=$(cat "$work/relayhost/port")
printf '%s' relay-secret > "$work/secrets/relayhost_password"
chown 10001 "$work/secrets/relayhost_password"
chmod 0400 "$work/secrets/relayhost_password"
podman volume create "$volume" >/dev/null
port2=$(free_low_port)
metrics2=$(free_port)
# As in the README, plus what a test on one host needs: host networking and
# loopback ports, and the relayhost's self-signed certificate as the CA.
podman run -d --name "$smarthost" --network host --health-interval disable \
  -v "$volume:/var/spool/tern" \
  -v "$work/secrets/relayhost_password:/run/secrets/relayhost_password:ro" \
  -v "$work/relayhost/relayhost.test.crt:/run/secrets/relayhost_ca.pem:ro" \
  -e SSL_CERT_FILE=/run/secrets/relayhost_ca.pem \
  -e TERN_SUBMISSION_LISTEN="127.0.0.1:$port2" \
  -e TERN_METRICS_LISTEN="127.0.0.1:$metrics2" \
  -e TERN_HOSTNAME=relay.example.test \
  -e TERN_DELIVERY_MODE=relayhost \
  -e TERN_DELIVERY_RELAYHOST="127.0.0.1:$relayhost_port" \
  -e TERN_DELIVERY_RELAYHOST_USER=relay-user \
  -e TERN_DELIVERY_RELAYHOST_PASSWORD_FILE=/run/secrets/relayhost_password \
  "$image" >/dev/null 2>>"$work/podman.log" || { cat "$work/podman.log"; fail "podman run"; }
wait_for 20 "the smarthost to listen on 127.0.0.1:$port2" listening "$smarthost" "$port2"
printf '%s' app1-password | podman exec -i "$smarthost" tern user add app1 >/dev/null \
  || fail "tern user add in the container"
if swaks --server "127.0.0.1:$port2" --from app@src.test --to you@dest.test --timeout 20 >"$work/swaks-noauth.log" 2>&1; then
  fail "the smarthost relayed without AUTH"
fi
grep -q '^<\*\* 530 5.7.0' "$work/swaks-noauth.log" || { cat "$work/swaks-noauth.log"; fail "no 530 without AUTH"; }
marker3="image-smarthost-$$-$RANDOM"
swaks --server "127.0.0.1:$port2" --tls --auth-user app1 --auth-password app1-password \
  --from app@src.test --to you@dest.test --header "X-Marker: $marker3" --timeout 20 >"$work/swaks-auth.log" 2>&1 \
  || { cat "$work/swaks-auth.log"; fail "swaks with STARTTLS + AUTH to the smarthost"; }
wait_for 30 "the message at the relayhost" grep -rqs "$marker3" "$work/relayhost"
head -1 "$(grep -rls "$marker3" "$work/relayhost")" | grep -q '^tls=True auth=True from=app@src.test' \
  || fail "the relayhost did not get the message over TLS with AUTH"
metric() { curl -sf "http://127.0.0.1:$metrics2/metrics" | awk -v s="$1" '$1 == s {print $2}'; }
[ "$(metric 'tern_deliveries_total{result="delivered"}')" = 1 ] || fail "tern_deliveries_total{result=delivered} != 1"
podman exec "$smarthost" tern queue summary >/dev/null || fail "tern queue summary in the container"
podman stop -t 20 "$smarthost" >/dev/null 2>>"$work/podman.log"
code=$(podman inspect -f '{{.State.ExitCode}}' "$smarthost")
[ "$code" = 0 ] || fail "the smarthost exited $code on SIGTERM"
step "image test passed"
