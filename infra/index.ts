import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopAll } from './child-process';
import { resolveMongo, type MongoEndpoint } from './mongo';
import { resolveTemporal, type TemporalEndpoint } from './temporal';

export interface Infrastructure {
  temporal: TemporalEndpoint;
  mongo: MongoEndpoint;
  dataDir: string;
  stop(): Promise<void>;
}

export interface InfrastructureOptions {
  /**
   * `persistent`: state under `dataDir` survives restarts (npm start).
   * `ephemeral`: in-memory Temporal and a throw-away database folder (tests, benchmarks).
   */
  mode: 'persistent' | 'ephemeral';
  dataDir?: string;
  log?: (msg: string) => void;
}

/**
 * The one place that decides where Temporal and MongoDB come from: the configured cluster when
 * TEMPORAL_ADDRESS / MONGODB_URI are set, otherwise embedded servers on loopback ports.
 * Used by `npm start`, the test suite and the benchmarks alike.
 */
export async function startInfrastructure(options: InfrastructureOptions): Promise<Infrastructure> {
  const log = options.log ?? ((msg: string) => process.stderr.write(`[infra] ${msg}\n`));
  const dataDir =
    options.dataDir ??
    (options.mode === 'persistent'
      ? path.resolve(process.env.DESKBRIDGE_DATA_DIR ?? '.data')
      : fs.mkdtempSync(path.join(os.tmpdir(), 'deskbridge-')));
  fs.mkdirSync(dataDir, { recursive: true });
  const [temporal, mongo] = await Promise.all([
    resolveTemporal({ dbFile: options.mode === 'persistent' ? path.join(dataDir, 'temporal.sqlite') : undefined, log }),
    resolveMongo({ dataDir, log }),
  ]).catch(async (err: unknown) => {
    await stopAll();
    throw err;
  });
  return {
    temporal,
    mongo,
    dataDir,
    async stop() {
      await Promise.all([temporal.stop(), mongo.stop()]);
      if (options.mode === 'ephemeral' && !options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export { stopAll, runningProcesses, startProcess, freePort, delay, waitUntilReadyMessage, type ManagedProcess } from './child-process';
export { startEmbeddedMongo } from './mongo';
export type { MongoEndpoint, TemporalEndpoint };
