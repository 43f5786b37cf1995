# syntax=docker/dockerfile:1
# tickcast: one image for every service, the trainer and the init steps.
#   docker build -t tickcast:dev .          (or: make build / scripts/deploy/build.sh)
#   docker run --rm tickcast:dev run all    (embedded mode, one process)
#   docker run --rm -e TICKCAST_MODE=production ... tickcast:dev run predictor
# Stages: `build` compiles the Rust addons (napi-rs) and type-checks the
# TypeScript; `runtime` is node:20 slim with production node_modules only,
# running as the non-root `node` user (uid 1000); it works with a read-only
# root filesystem as long as /tmp is writable (tsx's compile cache, the data dir).

ARG NODE_VERSION=20.20.2
ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------- toolchains
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS rust

# ---------------------------------------------------------------- build
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# libclang for bindgen (LightGBM binding); cmake >= 3.28 for LightGBM comes from
# PyPI (bookworm ships 3.25), see crates/lightgbm/requirements-build.txt.
ARG LIBCLANG_VERSION=1:14.0-55.7~deb12u1
ARG CMAKE_VERSION=3.31.6
ARG PYTHON3_VENV_VERSION=3.11.2-1+b1
RUN apt-get update \
 && apt-get install -y --no-install-recommends "libclang-dev=${LIBCLANG_VERSION}" "python3-venv=${PYTHON3_VENV_VERSION}" \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/cmake \
 && /opt/cmake/bin/pip install --no-cache-dir --disable-pip-version-check "cmake==${CMAKE_VERSION}"
COPY --from=rust /usr/local/cargo /usr/local/cargo
COPY --from=rust /usr/local/rustup /usr/local/rustup
ENV CARGO_HOME=/usr/local/cargo \
    RUSTUP_HOME=/usr/local/rustup \
    CARGO_TARGET_DIR=/tmp/cargo-target \
    CMAKE=/opt/cmake/bin/cmake \
    PATH=/usr/local/cargo/bin:/opt/cmake/bin:$PATH

WORKDIR /src
# Dependencies first, so a source change does not re-download them.
COPY package.json package-lock.json ./
COPY crates/ crates/
RUN npm ci --no-audit --no-fund
COPY Cargo.toml Cargo.lock tsconfig.json ./
# A workspace member (the fan-out benchmark's load generator): cargo reads every member's manifest.
COPY bench/wsload/ bench/wsload/
COPY bin/ bin/
COPY ts/ ts/
COPY data/ data/
# The native addons (release), then the TypeScript type-check (tsx runs the
# sources at runtime: there is no emitted JavaScript to ship).
RUN npm run build --workspaces --if-present \
 && npx tsc --noEmit -p tsconfig.json \
 && npm prune --omit=dev --no-audit --no-fund
# Stage what the runtime needs: each workspace package's manifest, loader,
# types and .node binary (node_modules/@tickcast/* link to these folders).
RUN mkdir -p /out/app \
 && cp -a package.json package-lock.json bin ts data node_modules /out/app/ \
 && rm -rf /out/app/ts/test \
 && for ws in $(node -p "require('./package.json').workspaces.join(' ')"); do \
      mkdir -p "/out/app/$ws" \
      && cp -a "$ws"/package.json "$ws"/index.js "$ws"/index.d.ts "$ws"/*.node "/out/app/$ws/"; \
    done

# ---------------------------------------------------------------- runtime
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# LightGBM is built with OpenMP: it needs the GNU OpenMP runtime.
ARG LIBGOMP_VERSION=12.2.0-14+deb12u1
RUN apt-get update \
 && apt-get install -y --no-install-recommends "libgomp1=${LIBGOMP_VERSION}" \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    TICKCAST_DATA_DIR=/tmp/tickcast \
    TICKCAST_HTTP_PORT=8080 \
    TICKCAST_API_PORT=8000
WORKDIR /app
COPY --from=build --chown=root:root /out/app /app
# The code is owned by root and read-only to the process; it runs as the image's
# `node` user, given numerically so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8080 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.TICKCAST_HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1: tickcast handles SIGTERM/SIGINT itself (graceful shutdown).
ENTRYPOINT ["node", "bin/tickcast.js"]
CMD ["run", "all"]
