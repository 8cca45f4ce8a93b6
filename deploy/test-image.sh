#!/usr/bin/env bash
# Builds the Docker image and runs it for real, without a Docker engine:
# a debian:bookworm-slim base made offline (debootstrap from the Debian
# mirror, `podman import`, tagged so the Dockerfile's unchanged FROM
# resolves), `podman build --isolation chroot`, `podman run` with runc and
# lowered ulimits (../shared/RECIPES.md §1). Then it submits a message
# through the container with swaks and waits for it at an smtp-sink on the
# host, and checks the healthcheck, the unprivileged user and sendmail.
# Needs root. The base image is cached in podman's store between runs.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /var/tmp/tern-image.XXXXXX)
image=localhost/tern:test
container=tern-image-test-$$
sink_pid=""
cleanup() {
  podman rm -f "$container" >/dev/null 2>&1 || true
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '== %s (%ss)\n' "$*" "$SECONDS"; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

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
    || { tail -20 "$work/debootstrap.log"; exit 1; }
  tar -C "$work/rootfs" --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' \
      --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' --exclude='./usr/share/locale/*' -c . \
    | podman import - localhost/debian:bookworm-slim >/dev/null
  podman tag localhost/debian:bookworm-slim docker.io/library/debian:bookworm-slim
  rm -rf "$work/rootfs"
fi

step "building the image"
podman build --isolation chroot --pull=never -t "$image" "$src" >"$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log"; exit 1; }

step "starting a sink on the host"
sink_port=$(free_port)
mkdir -p "$work/sink"
chown nobody "$work/sink"
/usr/sbin/smtp-sink -u nobody -c -d "$work/sink/%M." "127.0.0.1:$sink_port" 100 &
sink_pid=$!

step "running the container"
port=$(free_port)
metrics=$(free_port)
podman run -d --name "$container" --network host \
  -e TERN_HOSTNAME=relay.image.test \
  -e TERN_SUBMISSION_LISTEN="127.0.0.1:$port" \
  -e TERN_METRICS_LISTEN="127.0.0.1:$metrics" \
  -e TERN_SUBMISSION_TRUSTED_NETWORKS=127.0.0.0/8 \
  -e TERN_DELIVERY_MODE=relayhost \
  -e TERN_DELIVERY_RELAYHOST="127.0.0.1:$sink_port" \
  -e TERN_DELIVERY_RELAYHOST_TLS=none \
  "$image" >/dev/null
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  if [ "$(podman inspect -f '{{.State.Running}}' "$container")" != true ]; then
    podman logs "$container"; echo "container exited"; exit 1
  fi
  sleep 0.1
done

step "submitting through the container"
marker="image-test-$$-$RANDOM"
swaks --server "127.0.0.1:$port" --from app@src.test --to user@dest.test \
  --header "X-Marker: $marker" --timeout 20 >"$work/swaks.log" 2>&1 \
  || { cat "$work/swaks.log"; podman logs "$container"; exit 1; }
grep -q "queued as" "$work/swaks.log"

for _ in $(seq 1 200); do
  grep -rqs "$marker" "$work/sink" && break
  sleep 0.1
done
grep -rqs "$marker" "$work/sink" || { echo "message did not reach the sink"; podman logs "$container"; exit 1; }
echo "delivered to the sink: $(grep -rls "$marker" "$work/sink" | head -1)"

step "checking the container"
user=$(podman exec "$container" id -un)
[ "$user" = tern ] || { echo "runs as $user, not tern"; exit 1; }
podman exec "$container" test -L /usr/sbin/sendmail
podman exec "$container" tern version | head -1
podman healthcheck run "$container" && echo "healthcheck ok"
podman stop -t 10 "$container" >/dev/null
code=$(podman inspect -f '{{.State.ExitCode}}' "$container")
[ "$code" = 0 ] || { echo "tern exited $code on SIGTERM"; podman logs "$container" | tail -20; exit 1; }
step "image test passed"
