import http from 'node:http';
import { Counter, Registry } from 'prom-client';

/**
 * What deskbridge did, counted per process. Activities and webhook routes increment these
 * wherever they run; the API's `/metrics` and the worker's metrics listener both serve them
 * next to their own registry, so each process reports what happened in it.
 */
export const processMetrics = new Registry();

export const syncRecordsTotal = new Counter({
  name: 'deskbridge_sync_records_total',
  help: 'Teamwork.com records handled by initial syncs, by kind and outcome',
  labelNames: ['kind', 'outcome'] as const,
  registers: [processMetrics],
});

export const linkSyncsTotal = new Counter({
  name: 'deskbridge_link_syncs_total',
  help: 'Two-way syncs of one linked record, by entity and outcome (error: the attempt threw and is retried or failed)',
  labelNames: ['entity', 'outcome'] as const,
  registers: [processMetrics],
});

export const webhooksTotal = new Counter({
  name: 'deskbridge_webhooks_total',
  help: 'Provider webhook deliveries, by provider and outcome',
  labelNames: ['provider', 'outcome'] as const,
  registers: [processMetrics],
});

export const mailMessagesTotal = new Counter({
  name: 'deskbridge_mail_messages_total',
  help: 'Mail messages handled by mailbox imports, by outcome',
  labelNames: ['outcome'] as const,
  registers: [processMetrics],
});

/** Counts one initial-sync page's outcomes (the page's ImportCounts). */
export function countSyncRecords(kind: 'company' | 'customer', counts: { created: number; matched: number; alreadyLinked: number; skipped: number }): void {
  syncRecordsTotal.inc({ kind, outcome: 'created' }, counts.created);
  syncRecordsTotal.inc({ kind, outcome: 'matched' }, counts.matched);
  syncRecordsTotal.inc({ kind, outcome: 'already_linked' }, counts.alreadyLinked);
  syncRecordsTotal.inc({ kind, outcome: 'skipped' }, counts.skipped);
}

/** Counts a link sync attempt by the outcome it returned, or `error` when it threw. */
export async function countLinkSync<T extends { outcome: string }>(entity: 'company' | 'customer', attempt: Promise<T>): Promise<T> {
  try {
    const result = await attempt;
    linkSyncsTotal.inc({ entity, outcome: result.outcome });
    return result;
  } catch (err) {
    linkSyncsTotal.inc({ entity, outcome: 'error' });
    throw err;
  }
}

/**
 * Counts one webhook delivery by the outcome its handling resolved to, or, when it was refused,
 * by the HTTP status of the problem it threw.
 */
export async function countWebhook<T extends string>(provider: 'teamwork' | 'gmail' | 'graph', handling: Promise<T>): Promise<T> {
  try {
    const outcome = await handling;
    webhooksTotal.inc({ provider, outcome });
    return outcome;
  } catch (err) {
    webhooksTotal.inc({ provider, outcome: refusalOutcome(err) });
    throw err;
  }
}

function refusalOutcome(err: unknown): string {
  const status = (err as { status?: unknown } | undefined)?.status;
  if (status === 400) return 'invalid';
  if (status === 401) return 'unauthorized';
  if (status === 503) return 'unavailable';
  return 'error';
}

/** The Prometheus text of several registries, as one scrape (their metric names are disjoint). */
export async function exposition(registries: Registry[]): Promise<string> {
  return Registry.merge(registries).metrics();
}

/**
 * The worker's scrape endpoint: its prom-client metrics, followed by the Temporal worker's own
 * metrics (Core's Prometheus exporter, bound to `temporalMetricsAddress`) when that is enabled.
 */
export function serveWorkerMetrics(options: {
  registries: Registry[];
  host: string;
  port: number;
  temporalMetricsAddress?: string;
}): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    void (async () => {
      const own = await exposition(options.registries);
      const temporal = options.temporalMetricsAddress ? await fetchText(`http://${options.temporalMetricsAddress}/metrics`) : '';
      res.writeHead(200, { 'content-type': processMetrics.contentType }).end(temporal ? `${own}\n${temporal}` : own);
    })().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}

/** Temporal's exporter may not be up yet right after start; its metrics are then simply absent from this scrape. */
async function fetchText(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.text() : '';
  } catch {
    return '';
  }
}
