# One image for both processes: `webhook` (admission) and `watcher` (rollback).
# The chart picks the process with the container's args:
#   args: ["webhook", "--config", "/etc/bluegreen-guard/webhook.yaml"]
#   args: ["watcher", "--config", "/etc/bluegreen-guard/watcher.yaml"]
#
# scripts/image-build-steps.sh runs these same steps without a container engine
# (the test suite builds the image layout that way and starts it read-only), so
# keep to the instructions that script understands: FROM ... AS, WORKDIR, ENV,
# COPY [--from], RUN, USER, ENTRYPOINT, CMD.

# ---- build: compile TypeScript with the full dependency set -----------------
# Node 24: the major the project is tested on (package.json "engines").
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- deps: production dependencies only -----------------------------------
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: the compiled output and production dependencies, nothing else --
# No RUN here: no npm cache, no compiler, no dev dependency in the final image.
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production NODE_OPTIONS=--enable-source-maps TMPDIR=/tmp
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Files stay owned by root and unwritable by the process; with a read-only
# root filesystem the only writable place is the /tmp emptyDir the chart mounts.
USER 65532:65532
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["webhook", "--config", "/etc/bluegreen-guard/webhook.yaml"]
