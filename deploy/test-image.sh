#!/usr/bin/env bash
# Builds the Docker image and runs it for real, without a Docker engine:
# a debian:bookworm-slim base made offline (debootstrap from the Debian
# mirror, `podman import`, tagged so the Dockerfile's unchanged FROM
# resolves), `podman build --isolation chroot`, `podman run` with runc and
# lowered ulimits (../shared/RECIPES.md §1). Then it checks what an operator
# relies on: tern runs as the unprivileged user and binds a privileged port,
# a message submitted with swaks through the container reaches an smtp-sink
# on the host, `sendmail` inside the container submits too, the HEALTHCHECK
# passes, and SIGTERM stops tern with exit code 0.
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

work=$(mktemp -d /var/tmp/tern-image.XXXXXX)
chmod 0755 "$work"  # smtp-sink runs as nobody and writes below it
image=localhost/tern:test
container=tern-image-test-$$
sink_pid=""
cleanup() {
  podman rm -f -v "$container" >/dev/null 2>&1 || true
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '== %s (%ss)\n' "$*" "$SECONDS"; }
fail() {
  echo "FAIL: $*" >&2
  if podman container exists "$container" 2>/dev/null; then
    echo "--- container log" >&2
    podman logs "$container" 2>&1 | tail -30 >&2
  fi
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
# No systemd here to run podman's healthcheck timer: the check is run by hand below.
podman run -d --name "$container" --network host --health-interval disable \
  -e TERN_HOSTNAME=relay.image.test \
  -e TERN_SUBMISSION_LISTEN="127.0.0.1:$port,127.0.0.1:$low_port" \
  -e TERN_METRICS_LISTEN="127.0.0.1:$metrics" \
  -e TERN_SUBMISSION_TRUSTED_NETWORKS=127.0.0.0/8 \
  -e TERN_DELIVERY_MODE=relayhost \
  -e TERN_DELIVERY_RELAYHOST="127.0.0.1:$sink_port" \
  -e TERN_DELIVERY_RELAYHOST_TLS=none \
  "$image" >/dev/null
listening() {
  [ "$(podman inspect -f '{{.State.Running}}' "$container")" = true ] || fail "the container exited"
  (exec 3<>"/dev/tcp/127.0.0.1/$low_port") 2>/dev/null
}
wait_for 20 "tern to listen on 127.0.0.1:$low_port" listening

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
podman stop -t 20 "$container" >/dev/null
code=$(podman inspect -f '{{.State.ExitCode}}' "$container")
[ "$code" = 0 ] || fail "tern exited $code on SIGTERM"
podman logs "$container" 2>&1 | grep -q 'event=stopped' || fail "no event=stopped in the log"
step "image test passed"
