import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { Runtime } from '../lib/runtime';

export interface WorkerHandle {
  worker: Worker;
  connection: NativeConnection;
}

/**
 * The worker runs every deskbridge workflow and activity on one task queue. A prebuilt workflow
 * bundle (DESKBRIDGE_WORKFLOW_BUNDLE) skips bundling at start; without it the TypeScript
 * sources are bundled on the fly.
 */
export async function createWorker(runtime: Runtime, overrides: Partial<WorkerOptions> = {}): Promise<WorkerHandle> {
  const connection = await NativeConnection.connect({ address: runtime.config.TEMPORAL_ADDRESS! });
  const bundlePath = process.env.DESKBRIDGE_WORKFLOW_BUNDLE;
  const worker = await Worker.create({
    connection,
    namespace: runtime.config.TEMPORAL_NAMESPACE,
    taskQueue: runtime.config.TEMPORAL_TASK_QUEUE,
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities(runtime),
    maxConcurrentActivityTaskExecutions: 20,
    shutdownGraceTime: '10 seconds',
    ...overrides,
  });
  return { worker, connection };
}
