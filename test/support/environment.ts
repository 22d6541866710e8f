import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startInfrastructure, type Infrastructure } from '../../infra';
import { generateKeyringSpec } from '../../lib/secrets';

export interface DeskbridgeEnvironment {
  infra: Infrastructure;
  stop(): Promise<void>;
}

/**
 * Real Temporal and a real database (embedded unless TEMPORAL_ADDRESS / MONGODB_URI say
 * otherwise) with the workflows bundled once, published through this process's environment
 * so every test system, worker child process and benchmark started after it joins them.
 * Shared by the jest global setup, the benchmarks and the history recorder.
 */
export async function startDeskbridgeEnvironment(options: { log: (msg: string) => void; keyId: string; logLevel: string }): Promise<DeskbridgeEnvironment> {
  const infra = await startInfrastructure({ mode: 'ephemeral', log: options.log });
  const bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'deskbridge-bundle-'));
  const bundlePath = path.join(bundleDir, 'workflows.js');
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietBundlerLogger });
  fs.writeFileSync(bundlePath, bundle.code);
  Object.assign(process.env, {
    TEMPORAL_ADDRESS: infra.temporal.address,
    TEMPORAL_NAMESPACE: infra.temporal.namespace,
    MONGODB_URI: infra.mongo.uri,
    DESKBRIDGE_TEST_DATA_DIR: infra.dataDir,
    DESKBRIDGE_WORKFLOW_BUNDLE: bundlePath,
    TOKEN_ENCRYPTION_KEYS: process.env.TOKEN_ENCRYPTION_KEYS ?? generateKeyringSpec(options.keyId),
    LOG_LEVEL: process.env.LOG_LEVEL ?? options.logLevel,
  });
  return {
    infra,
    async stop() {
      await infra.stop();
      fs.rmSync(bundleDir, { recursive: true, force: true });
    },
  };
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => process.stderr.write(`${message}\n`),
};
