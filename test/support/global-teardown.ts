import { runningProcesses, stopAll } from '../../infra';
import type { DeskbridgeEnvironment } from './environment';

/** Stops the suite's servers and fails the run if any process it started is still alive. */
export default async function globalTeardown(): Promise<void> {
  const environment = (globalThis as { __deskbridgeEnvironment?: DeskbridgeEnvironment }).__deskbridgeEnvironment;
  if (!environment) return;
  const pids = runningProcesses().map((p) => p.pid);
  await environment.stop();
  await stopAll();
  const survivors = pids.filter(isAlive);
  if (survivors.length > 0) throw new Error(`test run left processes behind: ${survivors.join(', ')}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
