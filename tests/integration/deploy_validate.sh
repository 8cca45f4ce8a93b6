#!/usr/bin/env bash
# deploy/ validates offline: promtool on the Prometheus config and rules, the
# dashboard and compose files parse and name only real metrics, and the
# Kubernetes manifests pass the API schemas.
set -euo pipefail
exec "$TERNTEST_SOURCE_DIR/deploy/validate.sh"
