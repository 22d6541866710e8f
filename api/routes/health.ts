import { z } from 'zod';
import type { RouteTable } from '../routing';
import { problemSchema } from '../schemas';
import type { AppDeps } from '../deps';

/** Liveness says the process answers; readiness says its database and Temporal answer too. */
const checkSchema = z.object({ ok: z.boolean(), error: z.string().optional() });
const checksSchema = z.object({ database: checkSchema, temporal: checkSchema });

export function addHealthRoutes(routes: RouteTable, deps: Pick<AppDeps, 'mongoose' | 'temporal'>): void {
  routes.add({
    method: 'get', path: '/healthz', tag: 'operations', auth: 'none', summary: 'Liveness',
    responses: { 200: { description: 'Process is up', schema: z.object({ status: z.literal('ok') }) } },
  }, ({ res }) => {
    res.json({ status: 'ok' });
  });
  routes.add({
    method: 'get', path: '/readyz', tag: 'operations', auth: 'none', summary: 'Readiness: database and Temporal reachable',
    responses: {
      200: { description: 'Ready', schema: z.object({ status: z.literal('ready'), checks: checksSchema }) },
      503: { description: 'A dependency is unreachable', schema: problemSchema.extend({ failing: z.array(z.string()), checks: checksSchema }), contentType: 'application/problem+json' },
    },
  }, async ({ res }) => {
    const [database, temporal] = await Promise.all([
      check(() => deps.mongoose.connection.db!.admin().command({ ping: 1 })),
      check(() => deps.temporal.connection.workflowService.getSystemInfo({})),
    ]);
    const ready = database.ok && temporal.ok;
    const checks = { database, temporal };
    if (ready) {
      res.json({ status: 'ready', checks });
      return;
    }
    const failing = Object.entries(checks).filter(([, c]) => !c.ok).map(([name]) => name);
    res.status(503).type('application/problem+json').json({
      type: 'https://deskbridge.dev/problems/not-ready',
      title: 'Not ready',
      status: 503,
      detail: `${failing.join(' and ')} unreachable`,
      failing,
      checks,
    });
  });
}

async function check(probe: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  try {
    await withTimeout(probe(), 2000);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (err) => (clearTimeout(timer), reject(err)),
    );
  });
}
