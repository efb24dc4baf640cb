# The Backchannel gateway. Build with a registry: `docker build -t backchannel .`
# Run: `docker run -p 3000:3000 -v backchannel-data:/data backchannel`
# (docs/operations.md, "Container, Compose and systemd").
#
# NODE_IMAGE: any Debian-based image with Node.js 20.19+ (npm too, unless it already has pnpm).
# PNPM_FLAGS: extra flags for each pnpm command, e.g. `--offline --cache-dir /pnpm/cache` with a
# pnpm store and metadata cache mounted at /pnpm/store and /pnpm/cache while building (CI builds
# this way, with no registry: .ci/container-test).
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION=12.21.0
ARG PNPM_FLAGS=
RUN command -v pnpm >/dev/null || npm install --global pnpm@${PNPM_VERSION}
WORKDIR /src
# The packages first, from the lockfile alone: this layer is rebuilt only when dependencies change.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch --store-dir /pnpm/store ${PNPM_FLAGS}
COPY . .
RUN pnpm install --frozen-lockfile --store-dir /pnpm/store ${PNPM_FLAGS} \
 && pnpm build \
 && pnpm --filter @backchannel/server deploy --prod --store-dir /pnpm/store ${PNPM_FLAGS} /out

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    BACKCHANNEL_STORAGE=fs:///data
# A fixed id, so that a host folder mounted at /data can be given to it (chown 10001).
RUN groupadd --gid 10001 backchannel \
 && useradd --uid 10001 --gid backchannel --home-dir /data --no-create-home --shell /usr/sbin/nologin backchannel \
 && install -d -o backchannel -g backchannel -m 0700 /data
# Owned by root: the gateway cannot change its own code.
COPY --from=build /out /app
RUN ln -s /app/bin/backchannel.js /usr/local/bin/backchannel
USER backchannel
WORKDIR /data
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["backchannel", "health"]
ENTRYPOINT ["backchannel"]
CMD ["serve"]
