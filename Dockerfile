# deskbridge API and worker (one image; docker-compose.yml picks the process by its command).
# Debian rather than Alpine: the Temporal SDK's native core bridge ships glibc builds only.
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

COPY package.json package-lock.json ./
# tsx is a runtime dependency: the services run their TypeScript sources directly.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY . .

# Bundling the workflows at build time fails the build on workflow code that cannot be bundled,
# and spares every worker start a webpack run.
RUN node --import tsx -e "require('@temporalio/worker').bundleWorkflowCode({ workflowsPath: require.resolve('./workflows') }).then(({ code }) => { require('node:fs').mkdirSync('dist', { recursive: true }); require('node:fs').writeFileSync('dist/workflows.js', code); })"
ENV DESKBRIDGE_WORKFLOW_BUNDLE=/app/dist/workflows.js

USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "api/server.ts"]
