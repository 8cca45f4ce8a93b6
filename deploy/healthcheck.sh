#!/bin/bash
# The tern image's HEALTHCHECK: GET /healthz on tern's metrics listener, taken
# from TERN_METRICS_LISTEN (the image sets 0.0.0.0:9464); healthy only on a
# 200. A wildcard address is probed on loopback. Needs nothing but bash.
set -u
listen=${TERN_METRICS_LISTEN:-0.0.0.0:9464}
port=${listen##*:}
host=${listen%:*}
host=${host#[}
host=${host%]}
case $host in
  "" | 0.0.0.0) host=127.0.0.1 ;;
  "::") host=::1 ;;
esac
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r status <&3 || exit 1
case $status in
  "HTTP/1."[01]" 200"*) exit 0 ;;
  *) echo "healthz: ${status%$'\r'}"; exit 1 ;;
esac
