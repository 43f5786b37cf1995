#!/usr/bin/env bash
# Build the tickcast image, by the first path that works here, and say which:
#   1. docker   when a Docker engine answers (`docker info`)
#   2. podman / buildah   when installed AND the base images can be had: already in
#      local storage, pulled, or (no registry serving images, mmdebstrap installed)
#      assembled here from package registries by scripts/deploy/base-images.sh;
#      no daemon needed. The build never pulls when the bases are local (--pull=never).
#   3. otherwise: build everything that goes into the image on this machine
#      (the napi addons, the TypeScript type-check) and lint the Dockerfile
#      (hadolint), and say that no image was built.
# Usage: scripts/deploy/build.sh [image tag]     (default tickcast:dev)
# Env: TICKCAST_BUILD_PATH=docker|podman|buildah|local forces a path.
#      TICKCAST_BUILD_FROM=HEAD builds the committed tree (git archive) instead of the
#      working tree (make deploy-e2e does: uncommitted edits stay out of the image).
#      TICKCAST_LOCAL_BASES=0 never assembles base images locally.
# podman/buildah cache the build stage's cargo registry + target and npm cache under
# $TICKCAST_CACHE/image-build (mounted for the RUN steps only: nothing lands in the image).
set -euo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=podman/env.sh
source scripts/deploy/podman/env.sh
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
      if ! timeout 30 "$tool" pull -q "$img" >/dev/null 2>&1; then
        log "$tool: cannot pull $img (no registry access?)"
        if [ "${TICKCAST_LOCAL_BASES:-1}" != 0 ] && [ "$tool" = podman ] && command -v mmdebstrap >/dev/null && [ "$(id -u)" = 0 ]; then
          log "assembling the base images locally from package registries (scripts/deploy/base-images.sh)"
          bash scripts/deploy/base-images.sh || return 1
          return 0
        fi
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

# Build context: the working tree, or the committed tree.
CONTEXT=.
if [ "${TICKCAST_BUILD_FROM:-}" = HEAD ]; then
  CONTEXT="$CACHE/image-build/context"
  rm -rf "$CONTEXT" && mkdir -p "$CONTEXT"
  git archive --format=tar HEAD | tar -C "$CONTEXT" -xf -
  log "context: the committed tree $(git rev-parse --short HEAD) in $CONTEXT"
fi
# --format docker: the OCI format has no SHELL, and the Dockerfile runs its RUN steps
# with bash -o pipefail. Build-time caches for the daemonless builders (the Dockerfile's build stage runs as root,
# CARGO_HOME=/usr/local/cargo, CARGO_TARGET_DIR=/tmp/cargo-target).
mkdir -p "$CACHE/image-build/cargo-registry" "$CACHE/image-build/cargo-target" "$CACHE/image-build/npm"
MOUNTS=(-v "$CACHE/image-build/cargo-registry:/usr/local/cargo/registry"
        -v "$CACHE/image-build/cargo-target:/tmp/cargo-target"
        -v "$CACHE/image-build/npm:/root/.npm")

case "$path" in
  docker)
    log "path: docker build (engine answered)"
    docker build -t "$TAG" "$CONTEXT"
    log "built $TAG with docker, size $(image_size docker "$TAG")"
    ;;
  podman)
    log "path: podman build (daemonless)"
    podman build --format docker --force-rm --layers --pull=never --network=host "${MOUNTS[@]}" -t "$TAG" "$CONTEXT"
    log "built $TAG with podman, size $(image_size podman "$TAG")"
    ;;
  buildah)
    log "path: buildah bud (daemonless)"
    buildah bud --format docker --layers --pull-never --network=host "${MOUNTS[@]}" -t "$TAG" "$CONTEXT"
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
