#!/usr/bin/env bash
# Installs what building, running and testing tern needs, from Debian 12's
# packages only. Idempotent: does nothing when everything is present.
# Usage: scripts/install-deps.sh [--runtime-only]
set -euo pipefail

build_pkgs=(
  ca-certificates cmake ninja-build g++ pkg-config git
  libuv1-dev libssl-dev libsqlite3-dev libc-ares-dev prometheus-cpp-dev
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libargon2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# Real peers for the tests: swaks (its TLS needs Net::SSLeay, only a
# Recommends) and aiosmtpd (SMTP clients/servers), Postfix (smtp-sink,
# smtp-source), dnsmasq (DNS), Prometheus; clang for libFuzzer; podman, runc
# and debootstrap to build and run the Docker image without a Docker engine
# (deploy/test-image.sh).
test_pkgs=(
  clang libclang-rt-14-dev openssl curl procps iproute2 python3 python3-aiosmtpd swaks libnet-ssleay-perl
  dnsmasq-base unbound postfix prometheus sqlite3 python3-yaml
  podman runc uidmap debootstrap
)
# deploy/validate.sh checks the Kubernetes manifests with npm's kubernetes-models.
command -v npm >/dev/null || test_pkgs+=(npm)

pkgs=("${build_pkgs[@]}")
[ "${1:-}" = "--runtime-only" ] || pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Postfix is only a tool box for the tests (smtp-sink, smtp-source) and the
# benchmark's competitor: install it unconfigured, and never start it.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
