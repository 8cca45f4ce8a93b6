#!/usr/bin/env bash
# The Docker image, built from the Dockerfile and run for real with podman:
# deploy/test-image.sh (unprivileged user, swaks and sendmail through the
# container to a sink on the host, HEALTHCHECK, SIGTERM -> 0). It needs root;
# run as another user it exits 77, which ctest reports as skipped.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIPPED: integration.image needs root (podman with runc, debootstrap); CI runs it as root" >&2
  exit 77
fi
exec bash "$TERNTEST_SOURCE_DIR/deploy/test-image.sh"
