import { Runtime as TemporalRuntime, DefaultLogger } from '@temporalio/worker';
import { registerDefaultMetrics } from '../api/metrics';
import { parseConfig } from '../lib/config';
import { processMetrics, serveWorkerMetrics } from '../lib/metrics';
import { createRuntime } from '../lib/runtime';
import { createWorker } from './create-worker';

/** Worker process: runs until SIGTERM/SIGINT, then finishes in-flight tasks and exits. */
async function main(): Promise<void> {
  const config = parseConfig();
  const temporalMetricsPort = config.TEMPORAL_METRICS_PORT;
  TemporalRuntime.install({
    logger: new DefaultLogger(config.LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN'),
    ...(temporalMetricsPort !== undefined && { telemetryOptions: { metrics: { prometheus: { bindAddress: `${config.HOST}:${temporalMetricsPort}` } } } }),
  });
  const runtime = await createRuntime(config, 'worker');
  registerDefaultMetrics(runtime.metrics);
  const metricsServer = config.WORKER_METRICS_PORT
    ? await serveWorkerMetrics({ registries: [runtime.metrics, processMetrics], host: config.HOST, port: config.WORKER_METRICS_PORT, temporalMetricsAddress: temporalMetricsPort === undefined ? undefined : `${scrapeHostOf(config.HOST)}:${temporalMetricsPort}` })
    : undefined;
  const { worker, connection } = await createWorker(runtime);
  runtime.logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, metricsPort: config.WORKER_METRICS_PORT }, 'worker started');
  process.send?.({ ready: true });
  // worker.run() installs its own SIGINT/SIGTERM handlers and resolves after a graceful shutdown.
  await worker.run();
  metricsServer?.close();
  await connection.close();
  await runtime.close();
  runtime.logger.info('worker stopped');
}

/** A wildcard bind address is reached over loopback. */
function scrapeHostOf(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
