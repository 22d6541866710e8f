import fs from 'node:fs';
import { delay, type Infrastructure } from '../infra';
import { startDeskbridgeEnvironment } from '../test/support/environment';
import { startTestSystem, type TestSystem } from '../test/support/system';

/**
 * Real Temporal and a real database (embedded unless TEMPORAL_ADDRESS / MONGODB_URI say
 * otherwise), the workflows bundled once, and one deskbridge (API in this process, workers as
 * child processes) on its own database and task queue: what benchmarks and chaos runs measure.
 */
export interface Harness {
  infra: Infrastructure;
  system: TestSystem;
  stop(): Promise<void>;
}

export const progress = (message: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const environment = await startDeskbridgeEnvironment({ log: (msg) => progress(`infra: ${msg}`), keyId: 'harness', logLevel: 'warn' });
  const system = await startTestSystem({ worker: false, env });
  return {
    infra: environment.infra,
    system,
    async stop() {
      await system.stop();
      await environment.stop();
    },
  };
}

/** Peak resident set size of a process so far, from the kernel's own high-water mark. */
export function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  return Math.round((kb / 1024) * 10) / 10;
}

/**
 * Stops the embedded database for `seconds` once `afterMs` has passed, unless the run finished
 * first; resolves with how long it was really down.
 */
export async function databaseOutage(mongo: Infrastructure['mongo'], options: { afterMs: number; seconds: number; finished: () => Promise<boolean> }): Promise<number> {
  await delay(options.afterMs);
  if (await options.finished()) return 0;
  progress(`database stopped for ${options.seconds} s`);
  const stoppedAt = Date.now();
  await mongo.pause!();
  await delay(options.seconds * 1000);
  await mongo.resume!();
  progress('database back');
  return (Date.now() - stoppedAt) / 1000;
}
