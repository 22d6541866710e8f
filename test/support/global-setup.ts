import { startDeskbridgeEnvironment, type DeskbridgeEnvironment } from './environment';

/**
 * Starts the real Temporal dev server and the real database once for the whole suite (building
 * the tools on a fresh machine), bundles the workflows once, and hands the addresses to every
 * test worker through the environment.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.DESKBRIDGE_TEST_INFRA === 'off') return;
  const started = Date.now();
  const environment = await startDeskbridgeEnvironment({ log: (msg) => process.stderr.write(`\n[test infra] ${msg}\n`), keyId: 'test1', logLevel: 'silent' });
  (globalThis as { __deskbridgeEnvironment?: DeskbridgeEnvironment }).__deskbridgeEnvironment = environment;
  process.env.NODE_ENV = 'test';
  const { temporal, mongo } = environment.infra;
  process.stderr.write(`[test infra] Temporal ${temporal.address} (${temporal.source}), MongoDB ${mongo.uri} (${mongo.source}), ready in ${Date.now() - started} ms\n`);
}
