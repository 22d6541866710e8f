import { randomUUID } from 'node:crypto';
import { GraphError } from './odata';

export type LifecycleEvent = 'subscriptionRemoved' | 'missed' | 'reauthorizationRequired';
export type ChangeType = 'created' | 'updated' | 'deleted';

export interface Subscription {
  id: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  expirationDateTime: Date;
  clientState: string | null;
  mailboxAddress: string;
  mailboxId: string;
  /** null when the resource is the whole mailbox (`me/messages`). */
  folderId: string | null;
  /** Subscriptions created with `Prefer: IdType="ImmutableId"` get immutable ids in notifications. */
  immutableIds: boolean;
}

export interface NotificationAttempt {
  at: Date;
  subscriptionId: string;
  kind: 'change' | 'lifecycle' | 'validation';
  url: string;
  attempt: number;
  status: number | null;
  outcome: 'delivered' | 'failed' | 'dropped';
  body: unknown;
}

export interface SubscriptionTimings {
  /** Graph gives the endpoint 10 s to echo the validation token. */
  validationTimeoutMs: number;
  /** A notification not acknowledged within 3 s counts as failed and is retried. */
  notificationTimeoutMs: number;
  /** Waits between delivery retries; Graph keeps retrying for up to 4 h, tests want milliseconds. */
  notificationRetryDelaysMs: number[];
}

export interface NotificationFaults {
  dropNext: number;
  duplicateNext: number;
}

/** Graph sends a reachability sentence with spaces and colons, so only a decoding endpoint echoes it right. */
function validationToken(): string {
  return `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Subscriptions and the webhook deliveries they cause. */
export class SubscriptionHub {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly attempts: NotificationAttempt[] = [];
  private readonly pending = new Set<Promise<void>>();
  private readonly shutdown = new AbortController();
  readonly faults: NotificationFaults = { dropNext: 0, duplicateNext: 0 };

  constructor(
    private readonly tenantId: string,
    private readonly timings: SubscriptionTimings,
  ) {}

  list(mailboxAddress?: string): Subscription[] {
    return [...this.subscriptions.values()].filter(
      (subscription) =>
        subscription.expirationDateTime.getTime() > Date.now() &&
        (mailboxAddress === undefined || subscription.mailboxAddress === mailboxAddress),
    );
  }

  get(id: string): Subscription | undefined {
    const subscription = this.subscriptions.get(id);
    return subscription && subscription.expirationDateTime.getTime() > Date.now() ? subscription : undefined;
  }

  add(subscription: Omit<Subscription, 'id'>): Subscription {
    const created = { ...subscription, id: randomUUID() };
    this.subscriptions.set(created.id, created);
    return created;
  }

  remove(id: string): boolean {
    return this.subscriptions.delete(id);
  }

  deliveryLog(): NotificationAttempt[] {
    return [...this.attempts];
  }

  /** Resolves once every notification started so far has been delivered, dropped or given up on. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  close(): void {
    this.shutdown.abort();
  }

  /**
   * The handshake Graph performs before creating a subscription: POST `url?validationToken=...`
   * and require 200, `text/plain` and the decoded token within the timeout.
   */
  async validateEndpoint(url: string): Promise<void> {
    const token = validationToken();
    const target = new URL(url);
    target.searchParams.set('validationToken', token);
    const record = (status: number | null, outcome: NotificationAttempt['outcome']) =>
      this.attempts.push({ at: new Date(), subscriptionId: '', kind: 'validation', url, attempt: 1, status, outcome, body: token });
    let response: globalThis.Response;
    let echoed: string;
    try {
      response = await fetch(target, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
        signal: AbortSignal.timeout(this.timings.validationTimeoutMs),
      });
      echoed = await response.text();
    } catch {
      record(null, 'failed');
      throw new GraphError(400, 'ValidationError', 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.');
    }
    const contentType = response.headers.get('content-type') ?? '';
    const valid = response.status === 200 && contentType.startsWith('text/plain') && echoed === token;
    record(response.status, valid ? 'delivered' : 'failed');
    if (response.status !== 200) {
      throw new GraphError(400, 'ValidationError', 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.');
    }
    if (!valid) {
      throw new GraphError(400, 'ValidationError', 'Subscription validation request failed. Response must exactly match validationToken query parameter.');
    }
  }

  notifyChange(
    mailbox: { address: string; id: string },
    folderId: string,
    changeType: ChangeType,
    message: { ids: { immutable: string; mutable: string }; etag: string },
  ): void {
    for (const subscription of this.list(mailbox.address)) {
      if (subscription.folderId !== null && subscription.folderId !== folderId) continue;
      if (!subscription.changeType.split(',').map((type) => type.trim()).includes(changeType)) continue;
      const id = subscription.immutableIds ? message.ids.immutable : message.ids.mutable;
      const resource = `Users/${mailbox.id}/Messages/${id}`;
      const body = {
        value: [
          {
            subscriptionId: subscription.id,
            subscriptionExpirationDateTime: subscription.expirationDateTime.toISOString(),
            changeType,
            resource,
            resourceData: { '@odata.type': '#Microsoft.Graph.Message', '@odata.id': resource, '@odata.etag': message.etag, id },
            clientState: subscription.clientState,
            tenantId: this.tenantId,
          },
        ],
      };
      this.send(subscription, 'change', subscription.notificationUrl, body);
    }
  }

  fireLifecycle(subscriptionId: string, lifecycleEvent: LifecycleEvent): void {
    const subscription = this.subscriptions.get(subscriptionId);
    if (!subscription) throw new Error(`no subscription ${subscriptionId}`);
    if (!subscription.lifecycleNotificationUrl) throw new Error(`subscription ${subscriptionId} has no lifecycleNotificationUrl`);
    const body = {
      value: [
        {
          subscriptionId,
          subscriptionExpirationDateTime: subscription.expirationDateTime.toISOString(),
          tenantId: this.tenantId,
          clientState: subscription.clientState,
          lifecycleEvent,
        },
      ],
    };
    // Graph stops delivering to a removed subscription; the app has to create a new one.
    if (lifecycleEvent === 'subscriptionRemoved') this.subscriptions.delete(subscriptionId);
    this.send(subscription, 'lifecycle', subscription.lifecycleNotificationUrl, body);
  }

  private send(subscription: Subscription, kind: 'change' | 'lifecycle', url: string, body: unknown): void {
    if (this.faults.dropNext > 0) {
      this.faults.dropNext -= 1;
      this.attempts.push({ at: new Date(), subscriptionId: subscription.id, kind, url, attempt: 0, status: null, outcome: 'dropped', body });
      return;
    }
    let copies = 1;
    if (this.faults.duplicateNext > 0) {
      this.faults.duplicateNext -= 1;
      copies = 2;
    }
    for (let copy = 0; copy < copies; copy += 1) {
      const delivery = this.deliverWithRetries(subscription.id, kind, url, body).finally(() => this.pending.delete(delivery));
      this.pending.add(delivery);
    }
  }

  private async deliverWithRetries(subscriptionId: string, kind: 'change' | 'lifecycle', url: string, body: unknown): Promise<void> {
    const delays = this.timings.notificationRetryDelaysMs;
    for (let attempt = 1; attempt <= delays.length + 1 && !this.shutdown.signal.aborted; attempt += 1) {
      let status: number | null = null;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json; charset=utf-8' },
          body: JSON.stringify(body),
          signal: AbortSignal.any([AbortSignal.timeout(this.timings.notificationTimeoutMs), this.shutdown.signal]),
        });
        status = response.status;
        await response.arrayBuffer();
      } catch {
        status = null;
      }
      const delivered = status !== null && status >= 200 && status < 300;
      this.attempts.push({ at: new Date(), subscriptionId, kind, url, attempt, status, outcome: delivered ? 'delivered' : 'failed', body });
      if (delivered) return;
      const delay = delays[attempt - 1];
      if (delay !== undefined) await sleep(delay, this.shutdown.signal);
    }
  }
}
