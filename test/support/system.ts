import crypto from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { Runtime as TemporalRuntime, DefaultLogger, type Worker } from '@temporalio/worker';
import { createApp } from '../../api/app';
import { parseConfig, type Config } from '../../lib/config';
import { createRuntime, type Runtime } from '../../lib/runtime';
import { createWorker } from '../../workers/create-worker';
import { workerProcessArgs } from '../../workers/process';
import { startProcess, waitUntilReadyMessage, type ManagedProcess } from '../../infra';

let temporalRuntimeInstalled = false;

/**
 * One deskbridge per test file: its own database and task queue on the suite's shared Temporal
 * server and database server, the real API listening on a loopback port (so emulators can
 * deliver webhooks to it), and a worker running in this process or as a child process.
 */
export interface TestSystem {
  config: Config;
  runtime: Runtime;
  app: Express;
  apiUrl: string;
  /** Environment for child processes (workers) that must join this system. */
  env: NodeJS.ProcessEnv;
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  spawnWorkerProcess(): Promise<ManagedProcess>;
  stop(): Promise<void>;
}

export interface TestSystemOptions {
  worker?: boolean;
  env?: Record<string, string>;
}

export async function startTestSystem(options: TestSystemOptions = {}): Promise<TestSystem> {
  if (!process.env.MONGODB_URI || !process.env.TEMPORAL_ADDRESS) throw new Error('test infrastructure is not running (see test/support/global-setup.ts)');
  if (!temporalRuntimeInstalled) {
    TemporalRuntime.install({ logger: new DefaultLogger('ERROR') });
    temporalRuntimeInstalled = true;
  }
  const id = crypto.randomBytes(4).toString('hex');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MONGODB_URI: withDatabase(process.env.MONGODB_URI, `dbk_${id}`),
    TEMPORAL_TASK_QUEUE: `deskbridge-test-${id}`,
    PORT: '0',
    // Schedules fire on wall-clock boundaries; a reconcile pass landing mid-test would race the
    // test's own steps. Tests that need reconciliation run the reconcile workflow themselves.
    RECONCILE_INTERVAL_SECONDS: '86400',
    ...options.env,
  };
  const config = parseConfig(env);
  const runtime = await createRuntime(config, 'test');
  const app = createApp(runtime);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  runtime.setPublicBaseUrl(apiUrl);
  env.PUBLIC_BASE_URL = apiUrl;

  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  const children: ManagedProcess[] = [];
  const system: TestSystem = {
    config,
    runtime,
    app,
    apiUrl,
    env,
    async startWorker() {
      if (worker) return;
      const handle = await createWorker(runtime);
      worker = handle.worker;
      running = worker.run().finally(() => handle.connection.close());
    },
    async stopWorker() {
      if (!worker) return;
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      worker = undefined;
    },
    async spawnWorkerProcess() {
      const proc = startProcess({
        name: 'deskbridge worker',
        command: process.execPath,
        args: workerProcessArgs(),
        env,
        ipc: true,
      });
      children.push(proc);
      await waitUntilReadyMessage(proc, 60_000);
      return proc;
    },
    async stop() {
      await system.stopWorker();
      await Promise.all(children.map((c) => c.stop()));
      await new Promise((resolve) => server.close(resolve));
      await runtime.mongoose.connection.db?.dropDatabase().catch(() => undefined);
      await runtime.close();
    },
  };
  if (options.worker !== false) await system.startWorker();
  return system;
}

function withDatabase(uri: string, dbName: string): string {
  const url = new URL(uri);
  url.pathname = `/${dbName}`;
  return url.toString();
}
