import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { registerDefaultMetrics } from './metrics';
import { parseConfig } from '../lib/config';
import { createRuntime } from '../lib/runtime';

/** API process: listens, and on SIGTERM/SIGINT stops accepting, drains requests and disconnects. */
async function main(): Promise<void> {
  const config = parseConfig();
  const runtime = await createRuntime(config, 'api');
  registerDefaultMetrics(runtime.metrics);
  const app = createApp(runtime);
  const server = app.listen(config.PORT, config.HOST, () => {
    const { port } = server.address() as AddressInfo;
    if (!config.PUBLIC_BASE_URL) runtime.setPublicBaseUrl(`http://${config.HOST}:${port}`);
    runtime.logger.info({ url: `http://${config.HOST}:${port}` }, 'api listening');
    process.send?.({ ready: true, port });
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    runtime.logger.info({ signal }, 'api shutting down');
    server.close(() => void runtime.close().then(() => process.exit(0)));
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`api failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
