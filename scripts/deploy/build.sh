#!/usr/bin/env bash
# Build the tickcast image, by the first path that works here, and say which:
#   1. docker   when a Docker engine answers (`docker info`)
#   2. podman / buildah   when installed AND the base images can be had (pulled
#      or already in local storage); no daemon needed
#   3. otherwise: build everything that goes into the image on this machine
#      (the napi addons, the TypeScript type-check) and lint the Dockerfile
#      (hadolint), and say that no image was built.
# Usage: scripts/deploy/build.sh [image tag]     (default tickcast:dev)
# Env: TICKCAST_BUILD_PATH=docker|podman|buildah|local forces a path.
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG="${1:-tickcast:dev}"
CACHE="${TICKCAST_CACHE:-$HOME/.cache/tickcast}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/cargo-target}"
log() { echo "[build] $*" >&2; }

# The base images of the Dockerfile, from its ARG defaults.
arg() { sed -n "s/^ARG $1=//p" Dockerfile | head -1; }
NODE_VERSION=$(arg NODE_VERSION); RUST_VERSION=$(arg RUST_VERSION); DEBIAN_RELEASE=$(arg DEBIAN_RELEASE)
BASES=(
  "docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE}"
  "docker.io/library/node:${NODE_VERSION}-${DEBIAN_RELEASE}"
  "docker.io/library/node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim"
)

# A daemonless builder is usable when every base image is local or can be pulled.
bases_available() {
  local tool=$1 img
  for img in "${BASES[@]}"; do
    if ! "$tool" image exists "$img" 2>/dev/null && ! "$tool" inspect --type image "$img" >/dev/null 2>&1; then
      log "$tool: base image $img is not local; trying to pull it"
      if ! timeout 60 "$tool" pull -q "$img" >/dev/null 2>&1; then
        log "$tool: cannot pull $img (no registry access?)"
        return 1
      fi
    fi
  done
}

image_size() { # tool tag
  "$1" image inspect "$2" --format '{{.Size}}' 2>/dev/null | awk '{printf "%.0f MB", $1/1e6}'
}

path="${TICKCAST_BUILD_PATH:-}"
if [ -z "$path" ]; then
  if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; then
    path=docker
  elif command -v podman >/dev/null && bases_available podman; then
    path=podman
  elif command -v buildah >/dev/null && bases_available buildah; then
    path=buildah
  else
    path=local
  fi
fi

case "$path" in
  docker)
    log "path: docker build (engine answered)"
    docker build -t "$TAG" .
    log "built $TAG with docker, size $(image_size docker "$TAG")"
    ;;
  podman)
    log "path: podman build (daemonless)"
    podman build --layers -t "$TAG" .
    log "built $TAG with podman, size $(image_size podman "$TAG")"
    ;;
  buildah)
    log "path: buildah bud (daemonless)"
    buildah bud --layers -t "$TAG" .
    log "built $TAG with buildah, size $(buildah images --noheading --format '{{.Size}}' "$TAG")"
    ;;
  local)
    log "path: local (no Docker engine, no usable podman/buildah): building the image's contents here and linting the Dockerfile; NO image was built"
    bash scripts/deploy/ensure-tools.sh >/dev/null
    log "native addons: npm run build --workspaces --if-present (cargo target $CARGO_TARGET_DIR)"
    npm run build --workspaces --if-present
    log "TypeScript type-check"
    npx tsc --noEmit -p tsconfig.json
    log "hadolint Dockerfile"
    "$CACHE/bin/hadolint" Dockerfile
    log "done: addons built, types checked, Dockerfile lint clean (image not built: no container engine here)"
    ;;
  *)
    log "unknown TICKCAST_BUILD_PATH=$path (expected docker, podman, buildah or local)"; exit 2 ;;
esac
