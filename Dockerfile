# ecr-admission container image: built on the full Node 24 image, run on distroless Node 24
# (no shell, no package manager) as UID 65532.
#
#   docker build -t ecr-admission:dev .
#   docker run --rm ecr-admission:dev check --help
#
# Base images are pinned by digest so a rebuild uses the bytes that were reviewed. The digests
# were taken from public Dockerfiles that pin these same tags (this repository's build machine
# has no Docker engine to pull them). Re-pin with:
#   crane digest node:24-bookworm
#   crane digest gcr.io/distroless/nodejs24-debian12:nonroot
# Builder and runtime are both Debian 12 (bookworm), so any prebuilt native addon npm picks in
# the build stage links against the same glibc at run time.

FROM node:24-bookworm@sha256:5711a0d445a1af54af9589066c646df387d1831a608226f4cd694fc59e745059 AS build
WORKDIR /app
ENV NODE_ENV=development \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
# Dependencies first, so source edits do not invalidate the npm ci layer.
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json tsconfig.dev-build.json ./
COPY src ./src
# tsc -> dist/ (the product: src/ without src/dev/) and dist-dev/ (everything, for the `dev`
# target below), then drop everything the runtime does not need (typescript, tap, the npm
# `node` package used in development, ...).
RUN npm run build \
 && npx tsc -p tsconfig.dev-build.json \
 && npm prune --omit=dev \
 && rm -rf node_modules/.cache

# `docker build --target dev`: the development commands (the AWS sandbox and the demo) for
# kind clusters (mk/kind.mk, the chart's sandbox.enabled). Never the default target.
FROM gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a AS dev
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist-dev ./dist
USER 65532:65532
EXPOSE 4566
ENTRYPOINT ["/nodejs/bin/node", "dist/dev/main.js"]
CMD ["sandbox"]

# The product (the default, last target): the webhook, serve and check, and what they import.
FROM gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a
WORKDIR /app
ENV NODE_ENV=production
# Owned by root and not writable by the runtime user: the process cannot change its own code
# (and the chart also mounts the root filesystem read-only).
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The distroless nonroot user, numeric so the kubelet can verify runAsNonRoot.
USER 65532:65532
# 8443: HTTPS POST /validate; 8080: /healthz, /readyz, /metrics.
EXPOSE 8443 8080
ENTRYPOINT ["/nodejs/bin/node", "dist/main.js"]
CMD ["serve"]
