#!/usr/bin/env bash
# Validates everything in deploy/ offline: Prometheus config and alert rules
# (promtool), the Grafana dashboard and provisioning files (JSON/YAML parse,
# metric names exist in INTERFACE.md's set), the compose file (YAML), and the
# Kubernetes manifests against the API schemas (npm kubernetes-models). With
# TERNTEST_BIN (ctest sets it), the TERN_* environment of the compose service
# and of the StatefulSet must pass `tern check-config`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${TERNTEST_NPM_CACHE:-/var/tmp/tern-npm}

promtool check config "$here/prometheus/prometheus.yml"
promtool check rules "$here/prometheus/alerts.yml"

/usr/bin/python3 - "$here" <<'PY'
import json, re, sys, yaml, os
here = sys.argv[1]
known = {"tern_messages_received_total", "tern_messages_rejected_total", "tern_deliveries_total",
         "tern_queue_messages", "tern_queue_oldest_age_seconds", "tern_delivery_duration_seconds",
         "tern_smtp_sessions_active", "tern_auth_failures_total", "tern_dns_queries_total",
         "tern_tls_handshakes_total"}
dash = json.load(open(os.path.join(here, "grafana/dashboards/tern.json")))
used = set()
for p in dash["panels"]:
    for t in p["targets"]:
        used |= set(re.findall(r"tern_[a-z_]+", t["expr"]))
rules = open(os.path.join(here, "prometheus/alerts.yml")).read()
used |= set(re.findall(r"tern_[a-z_]+", rules))
base = {re.sub(r"_(bucket|sum|count)$", "", m) for m in used}
unknown = base - known
if unknown:
    sys.exit(f"unknown metric names in deploy/: {sorted(unknown)}")
for f in ("compose.yaml", "grafana/provisioning/datasources/prometheus.yaml",
          "grafana/provisioning/dashboards/tern.yaml"):
    yaml.safe_load(open(os.path.join(here, f)))
compose = yaml.safe_load(open(os.path.join(here, "compose.yaml")))
assert {"tern", "prometheus", "grafana"} <= set(compose["services"]), "compose services"
print(f"ok dashboard ({len(dash['panels'])} panels), compose, provisioning; metrics used: {len(base)}")

tern = os.environ.get("TERNTEST_BIN")
if tern:
    import subprocess, tempfile
    k8s = [d for d in yaml.safe_load_all(open(os.path.join(here, "kubernetes/tern.yaml"))) if d]
    sts = next(d for d in k8s if d["kind"] == "StatefulSet")
    k8s_env = {e["name"]: e["value"] for c in sts["spec"]["template"]["spec"]["containers"]
               for e in c.get("env", []) if "value" in e}
    for what, env in (("compose.yaml", compose["services"]["tern"]["environment"]), ("kubernetes/tern.yaml", k8s_env)):
        with tempfile.TemporaryDirectory() as tmp:
            secret = os.path.join(tmp, "secret")
            open(secret, "w").write("x")
            run_env = {"PATH": os.environ["PATH"], "TERN_SPOOL": tmp}
            for k, v in env.items():
                run_env[k] = secret if k.endswith("_FILE") else str(v)
            res = subprocess.run([tern, "check-config"], env=run_env, capture_output=True, text=True)
            if res.returncode != 0:
                sys.exit(f"{what}: tern check-config rejects its TERN_* environment: {res.stderr.strip()}")
        print(f"ok {what}: TERN_* environment passes tern check-config ({len(env)} variables)")
PY

# The Kubernetes schemas come from npm's kubernetes-models. Where the npm
# registry cannot be reached (no network, or a TLS-intercepting proxy whose
# CA this machine lacks), that part is skipped loudly with exit 77, and only
# that part: everything above has passed by then.
if ! command -v npm >/dev/null; then
  echo "npm not found (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
if [ ! -d "$cache/node_modules/kubernetes-models" ] || [ ! -d "$cache/node_modules/js-yaml" ]; then
  mkdir -p "$cache"
  npm_opts=(--no-audit --no-fund --prefix "$cache" --fetch-retries 1 --fetch-timeout 60000)
  # Debian's node trusts only its bundled CAs; use the system store too.
  [ -r /etc/ssl/certs/ca-certificates.crt ] && npm_opts+=(--cafile /etc/ssl/certs/ca-certificates.crt)
  if ! npm install "${npm_opts[@]}" kubernetes-models js-yaml >"$cache/install.log" 2>&1; then
    if grep -qE "ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|CERT|certificate|ECONNRESET|network" "$cache/install.log"; then
      echo "SKIPPED: the Kubernetes manifests were not validated: the npm registry is out of reach" \
           "from here ($(grep -m1 -oE 'code [A-Z_]+' "$cache/install.log" || echo 'see npm log'))." \
           "Prometheus, Grafana, compose and TERN_* checks above passed." >&2
      exit 77
    fi
    tail -20 "$cache/install.log" >&2
    exit 1
  fi
fi
NODE_PATH="$cache/node_modules" node "$here/kubernetes/validate.mjs" "$here"/kubernetes/*.yaml
