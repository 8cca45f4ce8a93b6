#!/usr/bin/env bash
# The Docker image, built from the Dockerfile and run for real with podman:
# deploy/test-image.sh (unprivileged user, swaks and sendmail through the
# container to a sink on the host, HEALTHCHECK, SIGTERM -> 0). It needs root
# and a machine that can make containers; elsewhere it exits 77, which ctest
# reports as skipped, with the reason.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIPPED: integration.image needs root (podman with runc, debootstrap); CI runs it as root" >&2
  exit 77
fi
# Building and running containers needs mount namespaces. A machine that is
# itself an unprivileged container (no CAP_SYS_ADMIN) cannot make them at
# all: say so and skip, rather than fail on the environment. Anywhere they can
# be made, every failure of the image test is a failure.
if ! unshare --mount --fork true 2>/dev/null; then
  echo "SKIPPED: integration.image: this machine cannot create mount namespaces (it is an" \
       "unprivileged container itself), so no container can be built or run here; run it on a VM" >&2
  exit 77
fi
exec bash "$TERNTEST_SOURCE_DIR/deploy/test-image.sh"
