#!/usr/bin/env bash
# make deploy-e2e: the deployment proven on this machine, end to end.
#   1. the image: scripts/deploy/build.sh (podman; base images assembled from
#      package registries when no registry serves them: base-images.sh)
#   2. the image runs: run-image.sh embedded, then production against a real
#      Kafka and Elasticsearch (scripts/services/with-services.sh)
#   3. the chart on a real API server: kube/chart-e2e.sh (install with hooks,
#      upgrade, rollback, uninstall)
# Every build is cached under ${TICKCAST_CACHE:-~/.cache/tickcast}: a warm run only
# runs. Env: TICKCAST_BUILD_FROM=HEAD builds the committed tree; TICKCAST_E2E_SKIP
# = a comma list of steps to skip (image,run,production,chart).
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${TICKCAST_IMAGE:-tickcast:dev}
SKIP=",${TICKCAST_E2E_SKIP:-},"
log() { echo "[deploy-e2e] $*" >&2; }
declare -a SUMMARY=()
step() { # name command...
  local name=$1; shift
  if [[ "$SKIP" == *",$name,"* ]]; then log "skip $name"; SUMMARY+=("$name: skipped"); return; fi
  local t; t=$(date +%s)
  log "---- $name"
  "$@" || { log "FAILED at $name after $(( $(date +%s) - t )) s"; exit 1; }
  SUMMARY+=("$name: $(( $(date +%s) - t )) s")
}
t0=$(date +%s)
[ "$(id -u)" = 0 ] || log "note: the local base images and podman here need root"
# Debian packages the image steps need (like `make system-deps`): podman and buildah
# (no daemon), runc (crun refuses this machine's hybrid cgroups), mmdebstrap (base images).
missing=""
for c in podman:podman buildah:buildah runc:runc mmdebstrap:mmdebstrap newuidmap:uidmap; do
  command -v "${c%%:*}" >/dev/null || missing="$missing ${c#*:}"
done
if [ -n "$missing" ]; then
  log "apt-get install$missing"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; fi
fi
step image bash scripts/deploy/build.sh "$TAG"
command -v podman >/dev/null && podman image exists "$TAG" || { log "no image $TAG was built (see above)"; exit 1; }
log "image $TAG: $(podman image inspect "$TAG" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
step run bash scripts/deploy/run-image.sh embedded "$TAG"
step production bash scripts/services/with-services.sh bash scripts/deploy/run-image.sh production "$TAG"
step chart bash scripts/deploy/kube/chart-e2e.sh
log "OK in $(( $(date +%s) - t0 )) s: ${SUMMARY[*]}"
