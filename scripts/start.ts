import path from 'node:path';
import { startInfrastructure, startProcess, waitUntilReadyMessage, stopAll, type ManagedProcess } from '../infra';
import { parseConfig } from '../lib/config';
import { startDemoEmulators, type DemoEmulators } from './demo-emulators';
import { workerProcessArgs } from '../workers/process';

/**
 * `npm start`: the whole system on embedded defaults. Temporal (with its UI) and the database
 * come from infra/, the worker and the API run as their own processes, and the local provider
 * emulators stand in for Teamwork.com, Gmail and Graph unless real endpoints are configured.
 */
async function main(): Promise<void> {
  const config = parseConfig();
  const log = (msg: string) => process.stdout.write(`[deskbridge] ${msg}\n`);
  const infra = await startInfrastructure({ mode: 'persistent', log });
  const providersConfigured = Boolean(config.GMAIL_API_ROOT_URL || config.GRAPH_BASE_URL);
  let emulators: DemoEmulators | undefined;
  if (config.DESKBRIDGE_EMULATORS === 'auto' && !providersConfigured) emulators = await startDemoEmulators(infra.dataDir);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: infra.temporal.address,
    TEMPORAL_NAMESPACE: infra.temporal.namespace,
    MONGODB_URI: infra.mongo.uri,
    DESKBRIDGE_DATA_DIR: infra.dataDir,
    PUBLIC_BASE_URL: config.PUBLIC_BASE_URL ?? `http://${config.HOST}:${config.PORT}`,
    ...emulators?.env,
  };
  const spawn = (name: string, args: string[]): ManagedProcess => startProcess({ name, command: process.execPath, args, env, ipc: true, tailLines: 200 });
  const worker = spawn('worker', workerProcessArgs());
  const api = spawn('api', ['--import', 'tsx', path.resolve(__dirname, '..', 'api/server.ts')]);
  // Their logs go to this terminal, so `npm start` is the one window to watch.
  for (const proc of [worker, api]) {
    proc.child.stdout?.pipe(process.stdout);
    proc.child.stderr?.pipe(process.stderr);
  }
  await Promise.all([waitUntilReadyMessage(worker, 120_000), waitUntilReadyMessage(api, 60_000)]);

  const apiUrl = `http://${config.HOST}:${config.PORT}`;
  emulators?.apiListening(apiUrl);
  log(`API:         ${apiUrl}  (health: ${apiUrl}/readyz)`);
  log(`Temporal UI: ${infra.temporal.uiUrl ?? '(external cluster)'}  gRPC ${infra.temporal.address} (${infra.temporal.source})`);
  log(`MongoDB:     ${infra.mongo.uri} (${infra.mongo.source}), data in ${infra.dataDir}`);
  for (const line of emulators?.banner ?? []) log(line.replace('PORT', String(config.PORT)));
  log('Ctrl-C stops everything.');

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping…');
    await Promise.all([api.stop(), worker.stop()]);
    await emulators?.close();
    await infra.stop();
    await stopAll();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  for (const proc of [worker, api]) {
    proc.child.once('exit', (code) => {
      if (stopping) return;
      log(`${proc.name} exited with code ${code}; stopping the rest`);
      void shutdown().then(() => process.exit(1));
    });
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`deskbridge failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
