#!/usr/bin/env bash
# The chart on a real API server (cluster.sh: etcd, kube-apiserver, controller
# manager, scheduler, kwok for the kubelets), through the whole release life:
#   1. helm install --wait --wait-for-jobs with ci/production-values.yaml (every
#      feature on) and the optional book service, in a namespace that enforces the "restricted" Pod Security
#      Standard; the pre-install init Job must complete (kwok completes its pod)
#      and, succeeded, be deleted
#   2. the server holds what the chart promised: Deployments available,
#      NetworkPolicies, PodDisruptionBudget, HorizontalPodAutoscaler, CronJob
#   3. helm upgrade with changed values (replicas, log level, image tag): the
#      pre-upgrade Job runs again, the changes are on the server
#   4. helm rollback to revision 1: the revision-1 values are back
#   5. helm uninstall --wait: nothing of the release is left in the namespace
#      (every listable namespaced kind is checked)
# Usage: chart-e2e.sh [WORKDIR]   (default: a fresh temporary directory; the
# cluster is stopped at the end unless TICKCAST_E2E_KEEP=1)
set -euo pipefail
cd "$(dirname "$0")/../../.."
HERE=scripts/deploy/kube
CACHE="${TICKCAST_CACHE:-$HOME/.cache/tickcast}"
CHART=charts/tickcast
NS=tickcast
REL=tickcast
log() { echo "[chart-e2e] $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

bash scripts/deploy/ensure-tools.sh >/dev/null
HELM="$CACHE/bin/helm"
WORK="${1:-$(mktemp -d /tmp/tickcast-kube.XXXXXX)}"
mkdir -p "$WORK"
cleanup() {
  local rc=$?
  if [ "${TICKCAST_E2E_KEEP:-0}" = 1 ]; then log "cluster left running: source $WORK/env; stop with: bash $HERE/cluster.sh stop $WORK"
  else bash "$HERE/cluster.sh" stop "$WORK" >/dev/null 2>&1 || true; [ $rc -eq 0 ] && rm -rf "$WORK"; fi
  [ $rc -eq 0 ] || log "logs kept in $WORK/logs"
}
trap cleanup EXIT

start=$(date +%s)
bash "$HERE/cluster.sh" start "$WORK"
# shellcheck disable=SC1091
source "$WORK/env"
K() { "$CACHE/kube/bin/kubectl" "$@"; }
log "control plane started in $(( $(date +%s) - start )) s"

# ---- the namespace and what the production values expect to exist already
K apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
EOF
K -n "$NS" create secret generic tickcast-secrets \
  --from-literal=TICKCAST_API_KEYS=e2e-key-1 \
  --from-literal=TICKCAST_API_CURSOR_SECRET=0123456789abcdef0123456789abcdef \
  --from-literal=TICKCAST_LLM_API_KEY=sk-e2e --from-literal=TICKCAST_CRYPTOPANIC_TOKEN=e2e \
  --from-literal=TICKCAST_ALERT_SLACK_URL=https://hooks.slack.invalid/x \
  --from-literal=TICKCAST_ALERT_WEBHOOK_URL=https://alerts.invalid/x >/dev/null
K -n "$NS" create secret generic tickcast-es-elastic-user --from-literal=elastic=e2e-password >/dev/null
K -n "$NS" create secret generic tickcast-es-http-certs-public --from-file=ca.crt="$WORK/pki/ca.crt" >/dev/null
K -n "$NS" create secret docker-registry registry-credentials --docker-server=registry.example.com \
  --docker-username=e2e --docker-password=e2e >/dev/null
# What may remain after the uninstall: these, and what Kubernetes puts in every namespace.
before=$(mktemp); after=$(mktemp)
inventory() { # every object of every listable namespaced kind, but events
  K api-resources --namespaced --verbs=list -o name | grep -v -E '^(events|events\.events\.k8s\.io)$' \
    | paste -sd, - | xargs -I{} "$CACHE/kube/bin/kubectl" -n "$NS" get {} -o name --ignore-not-found 2>/dev/null | sort
}
inventory >"$before"

# The optional order-book Deployment too (off in the values files), so the server sees every template.
values=(-f "$CHART/ci/production-values.yaml" --set services.book.enabled=true)
t=$(date +%s)
log "helm install (production-like values, hooks, --wait --wait-for-jobs)"
"$HELM" install "$REL" "$CHART" -n "$NS" "${values[@]}" --wait --wait-for-jobs --timeout 3m \
  || { K -n "$NS" get all,events 2>&1 | tail -40 >&2; fail "helm install"; }
log "installed in $(( $(date +%s) - t )) s"

# ---- what the server holds
# The hook Job is deleted once it succeeds (hook-succeeded): its completions are
# counted from the job controller's events, which outlive it.
init_runs() {
  K -n "$NS" get events --field-selector "involvedObject.kind=Job,involvedObject.name=$REL-init,reason=Completed" \
    --no-headers 2>/dev/null | wc -l
}
[ "$(init_runs)" = 1 ] || fail "the init Job did not complete once (completions: $(init_runs))"
K -n "$NS" get job "$REL-init" >/dev/null 2>&1 && fail "the succeeded init Job was not deleted (hook-succeeded)"
log "the pre-install init Job completed and was deleted"
for kind in networkpolicy poddisruptionbudget horizontalpodautoscaler cronjob deployment service configmap serviceaccount ingress; do
  n=$(K -n "$NS" get "$kind" -l "app.kubernetes.io/instance=$REL" --no-headers 2>/dev/null | wc -l)
  [ "$n" -gt 0 ] || fail "no $kind of the release on the server"
  log "server holds $n $kind"
done
K -n "$NS" get deployments -l "app.kubernetes.io/instance=$REL" \
  -o jsonpath='{range .items[*]}{.metadata.name} {.spec.replicas} {.status.availableReplicas}{"\n"}{end}' \
  | while read -r name want have; do
      [ "${have:-0}" = "$want" ] || fail "deployment $name: $have of $want available"
    done
replicas() { K -n "$NS" get deployment "$REL-$1" -o jsonpath='{.spec.replicas}'; }
[ "$(replicas candles)" = 2 ] || fail "candles replicas $(replicas candles), values say 2"

# ---- upgrade with changed values
t=$(date +%s)
log "helm upgrade (candles 3 replicas, log level debug, image tag 0.1.1)"
"$HELM" upgrade "$REL" "$CHART" -n "$NS" "${values[@]}" --set services.candles.replicas=3 \
  --set config.logLevel=debug --set image.tag=0.1.1 --wait --wait-for-jobs --timeout 3m || fail "helm upgrade"
log "upgraded in $(( $(date +%s) - t )) s"
[ "$(replicas candles)" = 3 ] || fail "after the upgrade candles has $(replicas candles) replicas, not 3"
img=$(K -n "$NS" get deployment "$REL-predictor" -o jsonpath='{.spec.template.spec.containers[0].image}')
case "$img" in *:0.1.1) ;; *) fail "after the upgrade the predictor image is $img";; esac
[ "$(init_runs)" = 2 ] || fail "the pre-upgrade init Job did not run again (completions: $(init_runs))"
K -n "$NS" get configmap -l "app.kubernetes.io/instance=$REL" -o yaml | grep -q -E 'TICKCAST_LOG_LEVEL: "?debug' \
  || fail "the ConfigMap does not carry the new log level"

# ---- rollback
t=$(date +%s)
log "helm rollback to revision 1"
"$HELM" rollback "$REL" 1 -n "$NS" --wait --wait-for-jobs --timeout 3m || fail "helm rollback"
log "rolled back in $(( $(date +%s) - t )) s"
[ "$(replicas candles)" = 2 ] || fail "after the rollback candles has $(replicas candles) replicas, not 2"
img=$(K -n "$NS" get deployment "$REL-predictor" -o jsonpath='{.spec.template.spec.containers[0].image}')
case "$img" in *:0.1.0) ;; *) fail "after the rollback the predictor image is $img";; esac
"$HELM" history "$REL" -n "$NS" >&2

# ---- uninstall: nothing left
t=$(date +%s)
log "helm uninstall --wait"
"$HELM" uninstall "$REL" -n "$NS" --wait --timeout 3m || fail "helm uninstall"
# Pods go through graceful deletion (kwok plays the kubelet): give them time.
for _ in $(seq 1 120); do
  inventory >"$after"
  diff -q "$before" "$after" >/dev/null && break
  sleep 1
done
if ! diff "$before" "$after" >&2; then fail "objects left after helm uninstall (lines with >)"; fi
log "uninstalled in $(( $(date +%s) - t )) s; nothing of the release is left"
log "OK: install, upgrade, rollback and uninstall on kube-apiserver $(K version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])') in $(( $(date +%s) - start )) s"
