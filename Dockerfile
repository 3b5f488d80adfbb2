# syntax=docker/dockerfile:1
# One image per service, one target each: edge, stt, llm, tts, storage, console.
#   scripts/build-images.sh            (docker, podman or buildah; tags from the git revision)
#   docker build --target stt -t hotpin/stt:dev .
# Build and runtime stages share one Debian 12 Node 20 base, so native addons (better-sqlite3,
# koffi, sharp's prebuilt libvips) built here load there, and libpocketsphinx/espeak-ng have the
# ABI the services are tested against.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles from source.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json turbo.json ./
COPY proto proto
COPY packages packages
COPY services services
COPY tests/package.json tests/package.json
RUN npm ci --no-audit --no-fund
RUN TURBO_TELEMETRY_DISABLED=1 npx turbo run build --filter='./services/*' \
  && npm prune --omit=dev --no-audit --no-fund

# What every service image has: Node, tini as PID 1 (forwards SIGTERM, reaps espeak-ng/sox
# children), the production node_modules and the shared packages. Numeric user, so that
# runAsNonRoot can verify it.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini ca-certificates \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/packages packages
USER 1000:1000
ENTRYPOINT ["/usr/bin/tini", "--"]
# Telemetry is preloaded before application code; never `npm start` as PID 1.
CMD ["node", "--enable-source-maps", "--require", "@hotpin/runtime/register", "dist/main.js"]

FROM runtime AS edge
# libopus for the xiaozhi dialect's Opus (packages/audio loads it through koffi).
USER 0:0
RUN apt-get update \
  && apt-get install -y --no-install-recommends libopus0 \
  && rm -rf /var/lib/apt/lists/*
USER 1000:1000
COPY --from=build /app/services/edge-ws services/edge-ws
WORKDIR /app/services/edge-ws
# 5000: DAWN DAP1 over TCP, when HOTPIN_EDGE_DAP1_PORT sets it (deploy/k8s/components/dap1).
EXPOSE 8000 9464 5000

FROM runtime AS stt
USER 0:0
RUN apt-get update \
  && apt-get install -y --no-install-recommends libpocketsphinx3 libsphinxbase3 pocketsphinx-en-us \
  && rm -rf /var/lib/apt/lists/*
USER 1000:1000
COPY --from=build /app/services/stt services/stt
WORKDIR /app/services/stt
EXPOSE 50051 9465

FROM runtime AS llm
COPY --from=build /app/services/llm services/llm
WORKDIR /app/services/llm
EXPOSE 50052 9466

FROM runtime AS tts
USER 0:0
RUN apt-get update \
  && apt-get install -y --no-install-recommends espeak-ng sox libsox-fmt-base \
  && rm -rf /var/lib/apt/lists/*
USER 1000:1000
COPY --from=build /app/services/tts services/tts
WORKDIR /app/services/tts
EXPOSE 50053 9467

FROM runtime AS storage
COPY --from=build /app/services/storage services/storage
WORKDIR /app/services/storage
EXPOSE 50054 9468

# The operator console (deploy/k8s/components/console). It imports the edge's device-token code,
# so the edge workspace (its dist and package.json) comes along.
FROM runtime AS console
COPY --from=build /app/services/edge-ws services/edge-ws
COPY --from=build /app/services/console services/console
WORKDIR /app/services/console
EXPOSE 8090 9469
