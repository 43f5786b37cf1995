#!/usr/bin/env bash
# Offline checks of the deployment artifacts (no cluster, no network):
#   - hadolint on the Dockerfile
#   - helm lint --strict on charts/tickcast, for each values set below
#   - helm template for each values set, then every rendered manifest validated
#     against the Kubernetes JSON schemas of $KUBE_VERSION (kubernetes-validate --strict)
# Values sets: the defaults, ci/production-values.yaml, examples/in-cluster-values.yaml.
# Installs its tools first (scripts/deploy/ensure-tools.sh, idempotent).
set -euo pipefail
cd "$(dirname "$0")/../.."

KUBE_VERSION="${TICKCAST_KUBE_VERSION:-1.34.0}"
CACHE="${TICKCAST_CACHE:-$HOME/.cache/tickcast}"
CHART=charts/tickcast
bash scripts/deploy/ensure-tools.sh >&2
HELM="$CACHE/bin/helm"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "[validate] hadolint Dockerfile"
"$CACHE/bin/hadolint" Dockerfile

status=0
for values in "" "$CHART/ci/production-values.yaml" "$CHART/examples/in-cluster-values.yaml"; do
  name=${values:-defaults}
  args=()
  [ -n "$values" ] && args=(-f "$values")
  echo "[validate] helm lint --strict ($name)"
  "$HELM" lint --strict --kube-version "$KUBE_VERSION" "$CHART" "${args[@]}" || { status=1; continue; }
  out="$work/$(basename "$name" .yaml).yaml"
  "$HELM" template tickcast "$CHART" --namespace tickcast --kube-version "$KUBE_VERSION" "${args[@]}" >"$out" || { status=1; continue; }
  kinds=$(grep -c '^kind:' "$out" || true)
  echo "[validate] kubernetes-validate -k $KUBE_VERSION --strict ($name: $kinds objects)"
  "$CACHE/bin/kubernetes-validate" -k "$KUBE_VERSION" --strict --quiet "$out" || status=1
done

if [ "$status" -eq 0 ]; then
  echo "[validate] OK: Dockerfile lint clean; chart lint-clean and every rendered object valid for Kubernetes $KUBE_VERSION"
else
  echo "[validate] FAILED (see above)"
fi
exit "$status"
