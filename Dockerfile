# Duet's container image. Build:   docker build -t duet .
# (podman: add --format docker, or the HEALTHCHECK is dropped: OCI images have no such field.)
# Run:     docker run --init -p 8080:8080 -v /srv/models:/models:ro duet
# The model is never baked in: mount it read-only at /models, or pull it into a volume first with
#          docker run -v duet-models:/models duet node dist/model-pull/cli.js
# A registry behind a private CA: docker build --secret id=npm_ca,src=/path/to/ca.pem .
# (the file is mounted only into the npm steps, never stored in the image).

# glibc, not Alpine: node-llama-cpp's prebuilt llama.cpp binaries do not run on musl.
ARG BASE_IMAGE=node:20-bookworm-slim

# ---- deps: every dependency, installed and checked the way .ci/run does ----
FROM ${BASE_IMAGE} AS deps
# node-gyp compiles the malloc-trim addon with these against the headers Node's images ship in
# /usr/local/include/node (nodedir: no header download at build time).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local \
    npm_config_omit_lockfile_registry_resolved=true \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /app
COPY package.json package-lock.json ./
COPY native/malloc-trim/package.json native/malloc-trim/binding.gyp native/malloc-trim/malloc_trim.c ./native/malloc-trim/
COPY scripts/check-lock.ts ./scripts/
COPY scripts/lib/lock-drift.ts ./scripts/lib/
# Not `npm ci`: this registry lacks some platforms' optional binaries, so `npm ci` refuses every
# lock; `npm install` skips those and check-lock then requires what it installed to be exactly the
# committed lock.
RUN --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && cp package-lock.json /tmp/committed-lock.json \
 && npm install \
 && npx tsx scripts/check-lock.ts /tmp/committed-lock.json package-lock.json \
 && test -f native/malloc-trim/build/Release/malloc_trim.node

# ---- build: compile TypeScript ----
FROM deps AS build
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npx nest build

# ---- prod-deps: production dependencies for this platform only ----
FROM deps AS prod-deps
# A production install brings every platform's prebuilt llama.cpp (@node-llama-cpp/*, ~669 MB:
# CUDA, Vulkan, ARM); Duet loads the CPU build of its own platform (linux-x64: ~29 MB). The llama.cpp
# source bundle only serves builds from source, which Duet never does (build: 'never'); TypeScript
# (23 MB) is kept by npm as node-llama-cpp's optional peer, which only one of its CLI commands uses.
RUN --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && npm prune --omit=dev \
 && keep="$(node -p '`${process.platform}-${process.arch === "arm" ? "armv7l" : process.arch}`')" \
 && test -d "node_modules/@node-llama-cpp/$keep" \
 && find node_modules/@node-llama-cpp -mindepth 1 -maxdepth 1 ! -name "$keep" -exec rm -rf {} + \
 && rm -f node_modules/node-llama-cpp/llama/gitRelease.bundle \
 && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver \
 && rm -rf native/malloc-trim/build/Release/obj.target native/malloc-trim/build/Release/.deps \
 && mkdir -p /models

# ---- runtime ----
FROM ${BASE_IMAGE}
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=8080 \
    MODEL_PATH=/models/qwen2.5-0.5b-instruct-q4_k_m.gguf
WORKDIR /app
# Code stays root-owned: read-only to the service. /models belongs to the service so that a fresh
# named volume there is writable by model-pull.
COPY --from=prod-deps /app/package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=prod-deps /app/native ./native
COPY --from=prod-deps --chown=1000:1000 /models /models
COPY --from=build /app/dist ./dist
# Numeric, so Kubernetes' runAsNonRoot can verify it (uid 1000 is `node` in Node's images).
USER 1000:1000
EXPOSE 8080
# Through node (slim images have no curl); dist/health-probe.js sends the first OPS_API_KEYS key when
# ops endpoints are guarded. Ready, not just live: "healthy" means serving.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["node", "dist/health-probe.js", "/health/ready"]
# Exec form, and no entrypoint script from the base image: node is PID 1 and gets SIGTERM itself (it
# drains, then exits 0). Duet starts no child processes, so `docker run --init` (a reaper in front of
# node that forwards signals) is optional.
ENTRYPOINT []
CMD ["node", "dist/main.js"]
