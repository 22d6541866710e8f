/**
 * Delivers v2 webhooks the way Teamwork.com does: asynchronously after the change, signed with the
 * webhook's token, retried after fixed delays on any non-2xx answer or timeout, then given up.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Faults } from './faults';
import type { Installation, WebhookEntityKey } from './installation';
import type { WebhookEvent, WebhookRecord } from './types';
import { eventCreator } from './wire';

export type DeliveryOutcome = 'delivered' | 'retry_scheduled' | 'gave_up' | 'dropped';

/** One line per attempt; a dropped delivery (fault) is logged once with attempt 0. */
export interface DeliveryLogEntry {
  deliveryId: string;
  webhookId: number;
  installation: string;
  event: WebhookEvent;
  url: string;
  attempt: number;
  at: string;
  status: number | null;
  error?: string;
  latencyMs: number;
  outcome: DeliveryOutcome;
  payload: unknown;
}

interface Delivery {
  deliveryId: string;
  installation: Installation;
  webhook: WebhookRecord;
  event: WebhookEvent;
  payload: object;
  body: string;
}

export function signBody(body: string, token: string): string {
  return createHmac('sha256', token).update(body).digest('hex');
}

export class WebhookDispatcher {
  private readonly log: DeliveryLogEntry[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  private outstanding = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly retryDelaysMs: readonly number[],
    private readonly timeoutMs: number,
    private readonly faults: Faults,
  ) {}

  /** Queues one delivery per webhook registered for `event`; never waits for any of them. */
  dispatch(installation: Installation, event: WebhookEvent, entityKey: WebhookEntityKey, entity: object): void {
    for (const webhook of installation.webhooks.values()) {
      if (webhook.event !== event) continue;
      const payload = { eventCreator: eventCreator(installation.siteOwner), [entityKey]: entity };
      const delivery: Delivery = {
        deliveryId: randomUUID(),
        installation,
        webhook,
        event,
        payload,
        body: JSON.stringify(payload),
      };
      if (this.faults.takeWebhookDrop()) {
        this.record(delivery, 0, { status: null, latencyMs: 0, outcome: 'dropped' });
        continue;
      }
      this.schedule(delivery, 1, 0);
    }
  }

  deliveries(): DeliveryLogEntry[] {
    return [...this.log];
  }

  clearDeliveries(): void {
    this.log.length = 0;
  }

  /** Resolves once every queued delivery has been delivered or given up. */
  settled(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Cancels pending retries and in-flight attempts (emulator reset or shutdown). */
  cancelAll(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.inFlight) controller.abort();
    this.inFlight.clear();
    this.outstanding = 0;
    this.wakeIdleWaiters();
  }

  private schedule(delivery: Delivery, attempt: number, delayMs: number): void {
    if (attempt === 1) this.outstanding += 1;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.attempt(delivery, attempt);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private async attempt(delivery: Delivery, attempt: number): Promise<void> {
    const { webhook } = delivery;
    if (delivery.installation.webhooks.get(webhook.id) !== webhook) {
      this.finish();
      return;
    }
    const controller = new AbortController();
    this.inFlight.add(controller);
    const startedAt = Date.now();
    let status: number | null = null;
    let error: string | undefined;
    try {
      const response = await fetch(webhook.url, {
        method: 'POST',
        headers: this.headers(delivery),
        body: delivery.body,
        redirect: 'manual',
        signal: AbortSignal.any([controller.signal, AbortSignal.timeout(this.timeoutMs)]),
      });
      status = response.status;
      await response.arrayBuffer();
    } catch (cause) {
      error = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    } finally {
      this.inFlight.delete(controller);
    }
    if (controller.signal.aborted) return;
    const latencyMs = Date.now() - startedAt;
    const delivered = status !== null && status >= 200 && status < 300 && error === undefined;
    const retryDelay = this.retryDelaysMs[attempt - 1];
    const outcome: DeliveryOutcome = delivered ? 'delivered' : retryDelay === undefined ? 'gave_up' : 'retry_scheduled';
    this.record(delivery, attempt, { status, error, latencyMs, outcome });
    if (outcome === 'retry_scheduled') this.schedule(delivery, attempt + 1, retryDelay!);
    else this.finish();
  }

  private headers(delivery: Delivery): Record<string, string> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': 'Teamwork-Webhooks/2',
      'X-Projects-Event': delivery.event,
      'X-Projects-Delivery': delivery.deliveryId,
    };
    if (delivery.webhook.token) headers['X-Projects-Signature'] = signBody(delivery.body, delivery.webhook.token);
    return headers;
  }

  private record(
    delivery: Delivery,
    attempt: number,
    result: Pick<DeliveryLogEntry, 'status' | 'error' | 'latencyMs' | 'outcome'>,
  ): void {
    this.log.push({
      deliveryId: delivery.deliveryId,
      webhookId: delivery.webhook.id,
      installation: delivery.installation.name,
      event: delivery.event,
      url: delivery.webhook.url,
      attempt,
      at: new Date().toISOString(),
      ...result,
      payload: delivery.payload,
    });
  }

  private finish(): void {
    this.outstanding -= 1;
    if (this.outstanding === 0) this.wakeIdleWaiters();
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
