import { Context } from '@temporalio/activity';

/**
 * Heartbeats while `work` runs, including while it waits out a rate-limit window, so a worker
 * that dies mid-activity is noticed after the heartbeat timeout instead of the whole
 * start-to-close timeout. Outside an activity (plain tests) it just runs the work.
 */
export async function withHeartbeat<T>(work: () => Promise<T>, everyMs = 1000): Promise<T> {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return work();
  }
  context.heartbeat();
  const timer = setInterval(() => context.heartbeat(), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
