# syntax=docker/dockerfile:1
# Tollgate's image: `docker build -t tollgate .` from the repository root.
# It runs /etc/tollgate/gateway.yaml (deploy/gateway.yaml unless you mount or copy your
# own) and the TypeScript routes in /etc/tollgate/routes/, which need no build step.

# ---- build: compiles the TypeScript with the dev dependencies
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts off: `prepare` compiles, and the sources are not copied yet.
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY plugins ./plugins
COPY examples ./examples
RUN npx tsc -p tsconfig.json

# ---- runtime: production dependencies (tsx among them, for the routes) and the build
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The package managers go once the dependencies are in: nothing installs at run time.
RUN npm ci --omit=dev --ignore-scripts \
 && npm cache clean --force \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn-* \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /root/.npm
COPY --from=build /app/dist ./dist
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
COPY deploy/gateway.yaml /etc/tollgate/gateway.yaml
# The image's own user (uid 1000): the gateway needs no privilege on ports above 1024.
USER node
EXPOSE 8080 9090
# SIGTERM drains in-flight requests (server.gracefulShutdown); `docker stop -t` must allow it.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["node", "deploy/healthcheck.mjs"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["start", "-c", "/etc/tollgate/gateway.yaml"]
