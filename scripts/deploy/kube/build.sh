#!/usr/bin/env bash
# Build the local Kubernetes control plane used by `make deploy-e2e`, from source
# through the Go module proxy (no binary downloads), idempotently:
#   kube-apiserver, kube-controller-manager, kube-scheduler,
#   kubectl                                                    k8s.io/kubernetes (./go.mod)
#   etcd                                                       go.etcd.io/etcd/server/v3 (./etcd/go.mod)
#   kwok                                                       sigs.k8s.io/kwok/cmd/kwok (go install)
# Output: ${TICKCAST_CACHE:-~/.cache/tickcast}/kube/bin/<name>, plus a stamp file
# per binary holding the version it was built for: a warm run only compares stamps.
# Cold: about 10-20 min of CPU on 2 cores (the apiserver is the big one).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${TICKCAST_CACHE:-$HOME/.cache/tickcast}"
BIN="$CACHE/kube/bin"
mkdir -p "$BIN"
log() { echo "[kube-build] $*" >&2; }
command -v go >/dev/null || { log "go is not on the PATH (need Go >= 1.24)"; exit 1; }

# Versions: from the go.mod files (the one place they are pinned), kwok here.
K8S_VERSION=$(sed -n "s/^[[:space:]]*k8s.io\/kubernetes \(v[0-9.]*\).*/\1/p" "$HERE/go.mod" | head -1)
ETCD_VERSION=$(sed -n "s/^[[:space:]]*go.etcd.io\/etcd\/server\/v3 \(v[0-9.]*\).*/\1/p" "$HERE/etcd/go.mod" | head -1)
KWOK_VERSION=v0.7.0
[ -n "$K8S_VERSION" ] && [ -n "$ETCD_VERSION" ] || { log "cannot read the versions from go.mod"; exit 1; }
K8S_MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)

stamp_ok() { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/$1.version" 2>/dev/null)" = "$2" ]; }
built() { echo "$2" > "$BIN/$1.version"; log "$1 $2 built in $(( $(date +%s) - $3 )) s"; }

# The version the apiserver reports (helm checks the chart's kubeVersion against it).
KLDFLAGS="-s -w \
  -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
  -X k8s.io/component-base/version.gitMajor=1 \
  -X k8s.io/component-base/version.gitMinor=$K8S_MINOR \
  -X k8s.io/component-base/version.gitTreeState=clean \
  -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION \
  -X k8s.io/client-go/pkg/version.gitMajor=1 \
  -X k8s.io/client-go/pkg/version.gitMinor=$K8S_MINOR"

for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  stamp_ok "$cmd" "$K8S_VERSION" && continue
  log "building $cmd $K8S_VERSION (k8s.io/kubernetes through the module proxy)"
  start=$(date +%s)
  (cd "$HERE" && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "$KLDFLAGS" -o "$BIN/$cmd" "k8s.io/kubernetes/cmd/$cmd")
  built "$cmd" "$K8S_VERSION" "$start"
done

if ! stamp_ok etcd "$ETCD_VERSION"; then
  log "building etcd $ETCD_VERSION (go.etcd.io/etcd/server/v3 through the module proxy)"
  start=$(date +%s)
  (cd "$HERE/etcd" && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
  built etcd "$ETCD_VERSION" "$start"
fi

if ! stamp_ok kwok "$KWOK_VERSION"; then
  log "building kwok $KWOK_VERSION (sigs.k8s.io/kwok through the module proxy)"
  start=$(date +%s)
  GOBIN="$BIN" CGO_ENABLED=0 nice -n 10 go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  built kwok "$KWOK_VERSION" "$start"
fi
log "control plane binaries in $BIN: $(cd "$BIN" && ls | grep -v version | tr '\n' ' ')"
