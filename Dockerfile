# syntax=docker/dockerfile:1.7
#
# Every Vigil image from one Dockerfile; pick the image with the SERVICE build argument:
#   receiver | writer | query | lifecycle | alerter | simulator | cli   (cli: the `vigil` command: migrate, check, jwt-keys, demo seed, the API)
#
#   docker buildx bake                                  # all seven, see docker-bake.hcl
#   docker buildx build --build-arg SERVICE=query -t vigil-query .
#
# Node runs the TypeScript sources directly (type stripping), so there is no build step:
# the image is the workspace pruned to the service's package and the packages it imports,
# with production dependencies only, owned by root and run as an unprivileged user.

ARG NODE_IMAGE=node:24.21.0-trixie-slim
ARG SERVICE=receiver

# ---- 1. prune: only the workspace packages SERVICE depends on, with a pruned lockfile
FROM ${NODE_IMAGE} AS prune
ARG SERVICE
# Same version as the devDependency in package.json.
ARG TURBO_VERSION=2.11.11
WORKDIR /src
RUN npm install --global --no-audit --no-fund "turbo@${TURBO_VERSION}"
COPY . .
RUN case "$SERVICE" in \
      receiver|writer|query|lifecycle|alerter|simulator|cli) ;; \
      *) echo "SERVICE must be receiver, writer, query, lifecycle, alerter, simulator or cli (got '$SERVICE')" >&2; exit 1 ;; \
    esac \
 && turbo prune "@vigil/$SERVICE" --docker --out-dir /pruned

# ---- 1b. console: the web console's static files (web/dist), for the query image only. Built
# from its own pruned workspace (React, Vite and the generated protobuf code), with dev
# dependencies; only dist/ leaves this stage.
FROM prune AS console-prune
RUN turbo prune @vigil/web --docker --out-dir /pruned-web

FROM ${NODE_IMAGE} AS console
WORKDIR /src
COPY --from=console-prune /pruned-web/json/ ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --ignore-scripts --no-audit --no-fund
COPY --from=console-prune /pruned-web/full/ ./
# Vite reads the TypeScript settings the workspace's tsconfig extends.
COPY --from=prune /src/tsconfig.base.json ./
RUN npm run build -w @vigil/web

# ---- 2. install: production dependencies from the pruned lockfile, then the sources
FROM ${NODE_IMAGE} AS install
WORKDIR /app
COPY --from=prune /pruned/json/ ./
# No install scripts: no production dependency needs one (npm 11 asks for approval of
# each anyway). The embedded database (PGlite, most of node_modules) serves only the
# quick start; @vigil/db loads it lazily, and images run on PostgreSQL. The lifecycle service and
# the CLI keep the archive's dependencies (@aws-sdk/client-s3, hyparquet, hyparquet-writer).
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@electric-sql node_modules/kysely-pglite-dialect
COPY --from=prune /pruned/full/ ./
COPY docker/healthcheck.ts docker/
# Tests and build configuration are not part of the image.
RUN find . -path ./node_modules -prune -o -type f \( -name '*.test.ts' -o -name 'tsconfig.json' -o -name 'turbo.json' \) \
      -exec rm -f {} +

# ---- 3. tini: a real init as PID 1 forwards SIGTERM and reaps zombies
FROM ${NODE_IMAGE} AS tini
# The base image's digest pins the Debian release; its point releases replace package versions.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

# ---- 4. runtime: shared by every image
FROM ${NODE_IMAGE} AS runtime
ARG NODE_IMAGE
ARG SERVICE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="vigil-${SERVICE}" \
      org.opencontainers.image.description="Vigil ${SERVICE}: telemetry for fleets of medical robots and sensors" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Vigil" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
ENV NODE_ENV=production
# The package managers are not needed at run time; fewer binaries, less to patch.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn-* \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg
COPY --from=tini /usr/bin/tini-static /usr/bin/tini
WORKDIR /app
# Owned by root and not writable by the process: works with a read-only root filesystem
# (nothing is written at run time but the lifecycle service's archive files under /tmp; the chart
# mounts /tmp in every pod).
COPY --from=install /app ./
# The node user of the base image, by number so Kubernetes can verify runAsNonRoot.
USER 1000:1000

FROM runtime AS service-receiver
EXPOSE 50051 9101
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "docker/healthcheck.ts", "grpc"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--import", "@vigil/telemetry/register", "services/receiver/src/main.ts"]

FROM runtime AS service-writer
EXPOSE 9102
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "docker/healthcheck.ts", "http", "WRITER_OPS_PORT", "9102"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--import", "@vigil/telemetry/register", "services/writer/src/main.ts"]

FROM runtime AS service-lifecycle
# The archive writes its Parquet export and verification copy under /tmp (the chart
# mounts a volume sized for it).
EXPOSE 9103
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "docker/healthcheck.ts", "http", "LIFECYCLE_OPS_PORT", "9103"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--import", "@vigil/telemetry/register", "services/lifecycle/src/main.ts"]

FROM runtime AS service-alerter
# Webhooks and SMTP leave from here only (the chart's NetworkPolicy opens that egress).
EXPOSE 9105
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "docker/healthcheck.ts", "http", "ALERTER_OPS_PORT", "9105"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--import", "@vigil/telemetry/register", "services/alerter/src/main.ts"]

FROM runtime AS service-query
# The console, served at / (QUERY_CONSOLE_DIR defaults to /app/web/dist).
COPY --from=console /src/web/dist web/dist
EXPOSE 8080 9104
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "docker/healthcheck.ts", "http", "QUERY_OPS_PORT", "9104"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--import", "@vigil/telemetry/register", "services/query/src/main.ts"]

FROM runtime AS service-simulator
HEALTHCHECK NONE
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--import", "@vigil/telemetry/register", "simulator/src/main.ts"]

FROM runtime AS service-cli
HEALTHCHECK NONE
ENTRYPOINT ["/usr/bin/tini", "--", "node", "packages/cli/src/main.ts"]
CMD ["--help"]

# The image: the stage of SERVICE.
# hadolint ignore=DL3006
FROM service-${SERVICE}
