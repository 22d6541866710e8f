import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { freePort, isPortOpen, startProcess, waitUntilReady, type ManagedProcess } from './child-process';
import { searchAttributeTypes } from './search-attributes';
import { resolveGoTool, temporalCli } from './tools';

export interface TemporalEndpoint {
  address: string;
  namespace: string;
  uiUrl?: string;
  /** How it was found, for the start banner and error messages. */
  source: 'TEMPORAL_ADDRESS' | 'temporal CLI' | 'SDK dev server';
  stop(): Promise<void>;
}

export interface TemporalOptions {
  /** SQLite file that keeps workflows across restarts; in-memory when absent (tests). */
  dbFile?: string;
  namespace?: string;
  log: (msg: string) => void;
}

export async function resolveTemporal(options: TemporalOptions): Promise<TemporalEndpoint> {
  const namespace = options.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default';
  if (process.env.TEMPORAL_ADDRESS) {
    const address = process.env.TEMPORAL_ADDRESS;
    await registerSearchAttributes(address, namespace);
    return { address, namespace, source: 'TEMPORAL_ADDRESS', stop: async () => undefined };
  }
  const cli = await resolveGoTool(temporalCli, options.log);
  if (cli) return startCliDevServer(cli, namespace, options);
  return startSdkDevServer(namespace, options);
}

async function startCliDevServer(cli: string, namespace: string, options: TemporalOptions): Promise<TemporalEndpoint> {
  const [port, uiPort, httpPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--ui-port', String(uiPort),
    '--http-port', String(httpPort),
    '--metrics-port', String(metricsPort),
    '--namespace', namespace,
    '--log-level', 'error',
    // Short task timeouts after a worker dies make crash-restart tests and local dev recover fast.
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true',
  ];
  for (const [name, type] of Object.entries(searchAttributeTypes)) args.push('--search-attribute', `${name}=${type}`);
  if (options.dbFile) {
    fs.mkdirSync(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  const proc = startProcess({ name: 'temporal dev server', command: cli, args });
  const address = `127.0.0.1:${port}`;
  await waitUntilReady(proc, () => canConnect(address, namespace), 60_000);
  await waitUntilReady(proc, () => isPortOpen(uiPort), 30_000);
  // With a persistent database the attributes may already exist; the flags are then a no-op.
  await registerSearchAttributes(address, namespace);
  return { address, namespace, uiUrl: `http://127.0.0.1:${uiPort}`, source: 'temporal CLI', stop: () => proc.stop() };
}

/** Last resort on machines with internet: the SDK downloads its own dev server. */
async function startSdkDevServer(namespace: string, options: TemporalOptions): Promise<TemporalEndpoint> {
  options.log('no temporal CLI and no Go toolchain: falling back to the SDK dev server download');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      ip: '127.0.0.1',
      namespace,
      dbFilename: options.dbFile,
      searchAttributes: [],
      ui: true,
    },
  });
  const address = env.connection.options.address;
  await registerSearchAttributes(address, namespace);
  return { address, namespace, source: 'SDK dev server', stop: () => env.teardown() };
}

async function canConnect(address: string, namespace: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } finally {
    await connection.close();
  }
}

/** Idempotent: attributes that already exist are left alone. */
export async function registerSearchAttributes(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.entries(searchAttributeTypes).filter(([name]) => !(name in (existing.customAttributes ?? {})));
    if (missing.length === 0) return;
    const enumType = temporal.api.enums.v1.IndexedValueType;
    const typeOf = (t: string) => enumType[`INDEXED_VALUE_TYPE_${t.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}` as keyof typeof enumType];
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, typeOf(type)])),
    });
  } finally {
    await connection.close();
  }
}

export type { ManagedProcess };
