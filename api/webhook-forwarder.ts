import crypto from 'node:crypto';
import net from 'node:net';
import { WorkflowNotFoundError, isGrpcCancelledError, isGrpcDeadlineError, isGrpcServiceError, isRetryableError } from '@temporalio/client';
import { Counter, Gauge } from 'prom-client';
import { LinkedRecordCache, routeTeamworkChange } from '../activities/contact-sync/link-signals';
import { configSchema } from '../lib/config';
import { BatchedInsert } from '../models/batched-insert';
import { forgetWebhookDelivery, recordWebhookDelivery } from '../models/webhook-delivery';
import { WebhookForwarderModel, WebhookOutboxModel } from '../models/webhook-outbox';
import { workflowIds } from '../workflows/ids';
import type { LinkChange, LinkEntity } from '../workflows/link';
import { mailChangedSignal } from '../workflows/mailbox';
import type { AppDeps } from './deps';
import { withinDeadline } from './hand-over';
import { starterOf } from './link-changes';
import { problems } from './problem';
import { routeTeamworkTaskChange } from './ticket-task-workflows';

/** What one webhook asks Temporal to be told: serialisable, so the outbox can hold it. */
export type HandOver =
  | { type: 'teamwork-change'; siteId: string; entity: LinkEntity; teamworkId: number; kind: LinkChange['kind'] }
  | { type: 'teamwork-task'; siteId: string; teamworkTaskId: number; description?: string }
  | { type: 'mailbox'; inboxId: string; renewPush: boolean };

/** Two hand-overs with the same target and content tell their workflow the same thing. */
export function handOverTarget(handOver: HandOver): string {
  switch (handOver.type) {
    case 'teamwork-change':
      return `teamwork-change:${handOver.siteId}:${handOver.entity}:${handOver.teamworkId}:${handOver.kind}`;
    case 'teamwork-task':
      return `teamwork-task:${handOver.siteId}:${handOver.teamworkTaskId}:${handOver.description ?? ''}`;
    case 'mailbox':
      return `mailbox:${handOver.inboxId}:${handOver.renewPush}`;
  }
}

export interface ForwarderOptions {
  /** Hand-overs sent to Temporal at once; more wait, and coalesce while they wait. */
  concurrency: number;
  /** One send's deadline (the Temporal client retries an unreachable server until then). */
  sendTimeoutMs: number;
  /** A send taking longer than this counts as Temporal failing. */
  slowAfterMs: number;
  /**
   * Acknowledging from the outbox needs Temporal to have answered this recently; otherwise its
   * port is tried first, so a stopped server is noticed before anything is acknowledged.
   */
  aliveForMs: number;
  /** How long a request waits for its send before Temporal's port is tried. */
  probeAfterMs: number;
  /** Distinct targets waiting beyond which deliveries are refused (bounds memory). */
  maxWaitingTargets: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Attempts after which a change Temporal rejects (rather than cannot be reached for) is dropped. */
  rejectedAttempts: number;
  heartbeatEveryMs: number;
  /** A forwarder silent this long is taken for dead and its outbox forwarded by another. */
  staleAfterMs: number;
  sweepEveryMs: number;
  pruneEveryMs: number;
}

export const defaultForwarderOptions: ForwarderOptions = {
  concurrency: configSchema.shape.WEBHOOK_HANDOVER_CONCURRENCY.parse(undefined),
  sendTimeoutMs: 2000,
  slowAfterMs: 1500,
  aliveForMs: 100,
  probeAfterMs: 200,
  maxWaitingTargets: 100_000,
  retryInitialMs: 500,
  retryMaxMs: 30_000,
  rejectedAttempts: 5,
  heartbeatEveryMs: 10_000,
  staleAfterMs: 60_000,
  sweepEveryMs: 30_000,
  pruneEveryMs: 10_000,
};

interface Waiter {
  /** Acknowledged from the outbox: retried until Temporal takes it. Otherwise a request waits for the answer. */
  durable: boolean;
  /** When this process acknowledged it (its own outbox records), for pruning. */
  since?: number;
  /** Its outbox record is written: later changes to the same target may rely on it. */
  recorded?: boolean;
  settled: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

interface Entry {
  target: string;
  handOver: HandOver;
  waiters: Waiter[];
  attempt: number;
  retry?: NodeJS.Timeout;
}

/**
 * Hands webhook changes over to Temporal for the API (issue 7). A delivery is acknowledged only
 * once its change is durable: either Temporal accepted the signal while the request waited, or,
 * when sends are already queued, once the change is written to the outbox, from which this
 * process forwards it (another process does if this one dies). Changes waiting for the same
 * target coalesce into one send: a signal is a hint that makes the workflow re-read its record,
 * so one sent after every waiting change arrived covers all of them. A change joins only a send
 * that has not started, since one already on its way may land before the change was made.
 *
 * While Temporal fails or hangs, deliveries are refused with 503 at once, without touching the
 * database, so providers redeliver later; one request at a time still goes through as a trial
 * and the first success reopens the door. A stopped server is noticed before the first outbox
 * acknowledgement: unless Temporal answered a moment ago, its port must take a connection first.
 */
export class WebhookForwarder {
  readonly id = crypto.randomUUID();
  private readonly waiting = new Map<string, Entry>();
  private readonly ready: Entry[] = [];
  private readonly sending = new Map<Entry, number>();
  private failingSince: number | undefined;
  private trialRunning = false;
  /** Sends that requests decided to wait for and have not queued yet (they are recording the delivery). */
  private reserved = 0;
  private lastAliveAt = 0;
  private probing: Promise<boolean> | undefined;
  private readonly linkedRecords = new LinkedRecordCache({ refreshAfterMs: 10 * 60_000, maxLinks: 500_000 });
  private readonly outbox = new BatchedInsert(() => WebhookOutboxModel.collection);
  private outboxUsed = false;
  /** When the newest of this process's outbox records was received, and before when all are deleted. */
  private newestRecordAt = 0;
  private prunedBefore = 0;
  private sweeping = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly deps: Pick<AppDeps, 'temporal' | 'config' | 'logger' | 'mongoose'>,
    private readonly options: ForwarderOptions = defaultForwarderOptions,
    private readonly sent: (outcome: 'ok' | 'failed') => void = () => undefined,
  ) {
    const every = (ms: number, task: () => Promise<void>) => {
      const timer = setInterval(() => {
        if (this.deps.mongoose.connection.readyState !== 1) return;
        task().catch((err: unknown) => this.deps.logger.warn({ err }, 'webhook outbox upkeep failed; retried on the next round'));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(options.heartbeatEveryMs, () => this.heartbeat());
    every(options.pruneEveryMs, () => this.prune());
    every(options.sweepEveryMs, () => this.sweep());
  }

  /**
   * Records the delivery (a repeat is `duplicate`) and hands its changes over, answering by
   * `deadlineAt`; throws a 503 problem when the changes are not durable by then, after
   * forgetting the delivery so the provider's retry is acted on.
   */
  async accept(deliveryKey: string | undefined, handOvers: HandOver[], deadlineAt: number): Promise<'accepted' | 'duplicate'> {
    const trial = handOvers.length > 0 && !this.healthy();
    if (trial && this.trialRunning) throw problems.unavailable('Temporal is not taking hand-overs now; retry later');
    if (this.waiting.size >= this.options.maxWaitingTargets) throw problems.unavailable('too many hand-overs waiting; retry later');
    if (trial) this.trialRunning = true;
    try {
      return await this.acceptNow(deliveryKey, handOvers, deadlineAt, trial);
    } finally {
      if (trial) this.trialRunning = false;
    }
  }

  /** Stops the upkeep timers (tests that build a forwarder of their own). */
  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
  }

  private async acceptNow(deliveryKey: string | undefined, handOvers: HandOver[], deadlineAt: number, trial: boolean): Promise<'accepted' | 'duplicate'> {
    // Requests deciding together all see the same idle queue: those already going direct count
    // until their sends are queued.
    const direct = trial || (this.ready.length === 0 && this.sending.size + this.reserved + handOvers.length <= this.options.concurrency);
    let reservation = direct ? handOvers.length : 0;
    this.reserved += reservation;
    const release = () => {
      this.reserved -= reservation;
      reservation = 0;
    };
    const forget = async () => {
      if (deliveryKey) await forgetWebhookDelivery(deliveryKey).catch((err: unknown) => this.deps.logger.warn({ err, deliveryKey }, 'could not forget a delivery that was not handed over'));
    };
    try {
      if (!direct && handOvers.length > 0 && !(await this.temporalReachable())) {
        this.failingSince ??= Date.now();
        throw problems.unavailable('Temporal is not reachable; retry later');
      }
      const receivedAt = new Date();
      if (deliveryKey) {
        const recording = recordWebhookDelivery(deliveryKey, receivedAt);
        const recorded = await beforeDeadline(recording, deadlineAt).catch((err: unknown) => {
          // Landing after we answered 503 would make the provider's retry look like a duplicate.
          void recording.then((inserted) => (inserted ? forget() : undefined), () => undefined);
          throw problems.unavailable(`could not record the delivery: ${(err as Error).message}`);
        });
        if (!recorded) return 'duplicate';
      }
      if (handOvers.length === 0) return 'accepted';
      release();
      if (direct) return await this.handOverNow(deliveryKey, handOvers, deadlineAt, forget);
      return await this.handOverLater(handOvers, receivedAt, deadlineAt, forget);
    } finally {
      release();
    }
  }

  /**
   * The request waits for Temporal to take every change. A send still unanswered after
   * `probeAfterMs` has Temporal's port tried: a stopped server is answered 503 at once instead
   * of at the deadline (the client would keep retrying it until then).
   */
  private async handOverNow(deliveryKey: string | undefined, handOvers: HandOver[], deadlineAt: number, forget: () => Promise<void>): Promise<'accepted'> {
    const sent = Promise.all(handOvers.map((handOver) => this.enqueue(handOver, { durable: false }).done));
    let probe: NodeJS.Timeout | undefined;
    const unreachable = new Promise<never>((_, reject) => {
      probe = setTimeout(() => {
        void this.temporalReachable().then((open) => {
          if (open) return;
          this.failingSince ??= Date.now();
          reject(new Error('Temporal is not reachable'));
        });
      }, this.options.probeAfterMs);
    });
    try {
      await beforeDeadline(Promise.race([sent, unreachable]), deadlineAt);
      return 'accepted';
    } catch (err) {
      this.deps.logger.warn({ err, deliveryKey, handOvers }, 'webhook change not handed over; answering 503 so the provider redelivers');
      await forget();
      throw problems.unavailable(`could not hand the change over: ${(err as Error).message}`);
    } finally {
      clearTimeout(probe);
    }
  }

  /**
   * The changes join the queue and the request is answered once they are in the outbox. A change
   * whose target already waits with an outbox record is covered by that record: it stays until
   * the send it joins succeeds, and forwarding it after a crash wakes the same workflow later
   * still. Under load most changes find their record already there and write none of their own.
   */
  private async handOverLater(handOvers: HandOver[], receivedAt: Date, deadlineAt: number, forget: () => Promise<void>): Promise<'accepted'> {
    const since = receivedAt.getTime();
    if (handOvers.every((handOver) => this.waiting.get(handOverTarget(handOver))?.waiters.some((w) => w.recorded && !w.settled))) {
      for (const handOver of handOvers) this.enqueue(handOver, { durable: true, since });
      return 'accepted';
    }
    const waiters = handOvers.map((handOver) => this.enqueue(handOver, { durable: true, since }).waiter);
    try {
      await beforeDeadline(this.outbox.insert({ _id: crypto.randomUUID(), by: this.id, receivedAt, handOvers }), deadlineAt);
    } catch (err) {
      // Not acknowledged: whatever of it is still queued is dropped (what was sent meanwhile was a harmless hint).
      for (const waiter of waiters) waiter.settled = true;
      await forget();
      throw problems.unavailable(`could not record the change: ${(err as Error).message}`);
    }
    for (const waiter of waiters) waiter.recorded = true;
    this.newestRecordAt = Math.max(this.newestRecordAt, since);
    if (!this.outboxUsed) {
      this.outboxUsed = true;
      void this.heartbeat().catch(() => undefined);
    }
    return 'accepted';
  }

  /** Temporal took the last send (or none was made) and nothing has been on its way too long. */
  private healthy(): boolean {
    if (this.failingSince !== undefined) return false;
    const slowBefore = Date.now() - this.options.slowAfterMs;
    for (const startedAt of this.sending.values()) if (startedAt < slowBefore) return false;
    return true;
  }

  /** Temporal answered a moment ago, or its port takes a connection now (one probe at a time). */
  private temporalReachable(): Promise<boolean> {
    const address = this.deps.config.TEMPORAL_ADDRESS;
    if (!address || Date.now() - this.lastAliveAt < this.options.aliveForMs) return Promise.resolve(true);
    this.probing ??= acceptsConnections(address, this.options.sendTimeoutMs).then((open) => {
      this.probing = undefined;
      if (open) this.lastAliveAt = Date.now();
      return open;
    });
    return this.probing;
  }

  private enqueue(handOver: HandOver, kind: { durable: boolean; since?: number }): { waiter: Waiter; done: Promise<void> } {
    let waiter!: Waiter;
    const done = new Promise<void>((resolve, reject) => {
      waiter = { ...kind, settled: false, resolve, reject };
    });
    const target = handOverTarget(handOver);
    const entry = this.waiting.get(target);
    if (entry) {
      entry.waiters.push(waiter);
      if (entry.retry && !kind.durable) {
        // A request is waiting for this one (the trial after failures): try now, not after the backoff.
        clearTimeout(entry.retry);
        entry.retry = undefined;
        this.ready.unshift(entry);
        this.pump();
      }
    } else {
      const created: Entry = { target, handOver, waiters: [waiter], attempt: 0 };
      this.waiting.set(target, created);
      // A request waiting for its answer goes before the outbox's backlog.
      if (kind.durable) this.ready.push(created);
      else this.ready.unshift(created);
      this.pump();
    }
    return { waiter, done };
  }

  private pump(): void {
    while (this.sending.size < this.options.concurrency && this.ready.length > 0) {
      const entry = this.ready.shift()!;
      if (this.waiting.get(entry.target) === entry) this.waiting.delete(entry.target);
      entry.waiters = entry.waiters.filter((w) => !w.settled);
      if (entry.waiters.length > 0) void this.send(entry);
    }
  }

  private async send(entry: Entry): Promise<void> {
    this.sending.set(entry, Date.now());
    try {
      await this.deps.temporal.withDeadline(Date.now() + this.options.sendTimeoutMs, () => this.dispatch(entry.handOver));
      this.sent('ok');
      for (const waiter of entry.waiters) settle(waiter);
      this.lastAliveAt = Date.now();
      if (this.failingSince !== undefined) {
        this.failingSince = undefined;
        this.retryAllNow();
      }
    } catch (err) {
      this.sent('failed');
      const outage = isOutage(err);
      if (outage) this.failingSince ??= Date.now();
      const durable = entry.waiters.filter((w) => w.durable && !w.settled);
      for (const waiter of entry.waiters) if (!waiter.durable) settle(waiter, err);
      if (durable.length === 0) return;
      if (!outage && entry.attempt + 1 >= this.options.rejectedAttempts) {
        // Temporal keeps refusing this one change: holding it would hold back the outbox for good.
        // Reconciliation (C3) and mailbox polling (I3) still pick up what it announced.
        this.deps.logger.error({ err, target: entry.target, handOver: entry.handOver }, 'acknowledged webhook change refused by Temporal; dropped');
        for (const waiter of durable) settle(waiter);
        return;
      }
      this.deps.logger.warn({ err, target: entry.target, attempt: entry.attempt + 1 }, 'acknowledged webhook change not handed over yet; retrying');
      this.retryLater(entry, durable);
    } finally {
      this.sending.delete(entry);
      this.pump();
    }
  }

  private retryLater(entry: Entry, durable: Waiter[]): void {
    const newer = this.waiting.get(entry.target);
    if (newer) {
      // A send for the same target is queued anyway; it covers these too.
      newer.waiters.push(...durable);
      newer.attempt = Math.max(newer.attempt, entry.attempt + 1);
      return;
    }
    entry.waiters = durable;
    entry.attempt += 1;
    this.waiting.set(entry.target, entry);
    const delay = Math.min(this.options.retryMaxMs, this.options.retryInitialMs * 2 ** (entry.attempt - 1));
    entry.retry = setTimeout(() => {
      entry.retry = undefined;
      this.ready.push(entry);
      this.pump();
    }, delay);
    entry.retry.unref();
  }

  /** Temporal answers again: what was backing off goes now instead of after its delay. */
  private retryAllNow(): void {
    for (const entry of this.waiting.values()) {
      if (!entry.retry) continue;
      clearTimeout(entry.retry);
      entry.retry = undefined;
      this.ready.push(entry);
    }
    this.pump();
  }

  private async dispatch(handOver: HandOver): Promise<void> {
    switch (handOver.type) {
      case 'teamwork-change':
        await routeTeamworkChange(starterOf(this.deps), handOver.siteId, handOver.entity, handOver.teamworkId, handOver.kind, this.linkedRecords);
        return;
      case 'teamwork-task':
        // Read back from the outbox, a missing description is null.
        await routeTeamworkTaskChange(this.deps, handOver.siteId, handOver.teamworkTaskId, handOver.description ?? undefined);
        return;
      case 'mailbox':
        try {
          await this.deps.temporal.workflow.getHandle(workflowIds.mailbox(handOver.inboxId)).signal(mailChangedSignal, { renewPush: handOver.renewPush });
        } catch (err) {
          // No running import (never connected, or deleted meanwhile): nothing to wake.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
    }
  }

  /** Changes acknowledged from the outbox and not yet taken by Temporal (this process's own). */
  unforwarded(): number {
    let count = 0;
    for (const entry of [...this.waiting.values(), ...this.sending.keys()]) for (const w of entry.waiters) if (w.since !== undefined && !w.settled) count += 1;
    return count;
  }

  /** Whether deliveries needing Temporal are being refused (all but one trial at a time). */
  refusing(): boolean {
    return !this.healthy();
  }

  private async heartbeat(): Promise<void> {
    if (!this.outboxUsed) return;
    await WebhookForwarderModel.updateOne({ _id: this.id }, { $set: { heartbeatAt: new Date() } }, { upsert: true });
  }

  /** Deletes this process's outbox records older than its oldest change still waiting. */
  private async prune(): Promise<void> {
    if (this.newestRecordAt < this.prunedBefore) return;
    let oldest = Date.now();
    for (const entry of [...this.waiting.values(), ...this.sending.keys()]) {
      for (const w of entry.waiters) if (w.since !== undefined && !w.settled && w.since < oldest) oldest = w.since;
    }
    await WebhookOutboxModel.deleteMany({ by: this.id, receivedAt: { $lt: new Date(oldest) } });
    this.prunedBefore = oldest;
  }

  /**
   * Forwards the outbox records of processes that stopped heart-beating, then deletes them. Two
   * processes adopting the same records both send them: a repeated hint costs one re-read.
   */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const cutoff = new Date(Date.now() - this.options.staleAfterMs);
      const alive = (await WebhookForwarderModel.find({ heartbeatAt: { $gte: cutoff } }, { _id: 1 }).lean()).map((f) => String(f._id));
      const orphans = await WebhookOutboxModel.find({ receivedAt: { $lt: cutoff }, by: { $nin: [...alive, this.id] } }).lean();
      const byForwarder = new Map<string, typeof orphans>();
      for (const record of orphans) byForwarder.set(record.by, [...(byForwarder.get(record.by) ?? []), record]);
      for (const [forwarder, records] of byForwarder) {
        // Looks alive to the others while this process forwards its records.
        await WebhookForwarderModel.updateOne({ _id: forwarder }, { $set: { heartbeatAt: new Date() } }, { upsert: true });
        this.deps.logger.info({ forwarder, records: records.length }, 'forwarding the webhook outbox of a stopped API process');
        await Promise.all(records.flatMap((record) => (record.handOvers as HandOver[]).map((handOver) => this.enqueue(handOver, { durable: true }).done)));
        await WebhookOutboxModel.deleteMany({ _id: { $in: records.map((r) => r._id) } });
        await WebhookForwarderModel.deleteOne({ _id: forwarder });
      }
      await WebhookForwarderModel.deleteMany({ heartbeatAt: { $lt: cutoff }, _id: { $ne: this.id } });
    } finally {
      this.sweeping = false;
    }
  }
}

/**
 * Temporal is down, overloaded or cut off (what its client itself would retry, or our deadline),
 * as opposed to having answered and refused this request. Errors that are not Temporal's answer
 * (the database, the network) count as an outage.
 */
function isOutage(err: unknown): boolean {
  const answer = [err, (err as { cause?: unknown } | undefined)?.cause].find(isGrpcServiceError);
  return !answer || isRetryableError(answer) || isGrpcDeadlineError(err) || isGrpcCancelledError(err);
}

function settle(waiter: Waiter, err?: unknown): void {
  if (waiter.settled) return;
  waiter.settled = true;
  if (err === undefined) waiter.resolve();
  else waiter.reject(err);
}

/** Whether something listens at `host:port`: a stopped server refuses at once, long before a gRPC call gives up. */
function acceptsConnections(address: string, timeoutMs: number): Promise<boolean> {
  const { hostname, port } = new URL(`grpc://${address}`);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || 7233) });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Settles as `work` does, or rejects once `deadlineAt` has passed (the work keeps running). */
const beforeDeadline = <T>(work: Promise<T>, deadlineAt: number): Promise<T> => withinDeadline(work, Math.max(0, deadlineAt - Date.now()));

const forwarders = new WeakMap<object, WebhookForwarder>();

/** The one forwarder of an API process (its webhook routes share it), with its gauges. */
export function forwarderOf(deps: AppDeps): WebhookForwarder {
  let forwarder = forwarders.get(deps);
  if (!forwarder) {
    const sends = new Counter({
      name: 'deskbridge_webhook_handover_sends_total',
      help: 'Signals and starts sent to Temporal for webhook changes, by outcome; fewer than deliveries when changes coalesce',
      labelNames: ['outcome'] as const,
      registers: [deps.metrics],
    });
    const created = new WebhookForwarder(deps, { ...defaultForwarderOptions, concurrency: deps.config.WEBHOOK_HANDOVER_CONCURRENCY }, (outcome) => sends.inc({ outcome }));
    forwarder = created;
    forwarders.set(deps, created);
    new Gauge({
      name: 'deskbridge_webhook_handovers_unforwarded',
      help: 'Webhook changes acknowledged from the outbox that Temporal has not taken yet',
      registers: [deps.metrics],
      collect() {
        this.set(created.unforwarded());
      },
    });
    new Gauge({
      name: 'deskbridge_webhook_handover_refusing',
      help: '1 while Temporal fails or hangs and webhooks that need it are answered 503',
      registers: [deps.metrics],
      collect() {
        this.set(created.refusing() ? 1 : 0);
      },
    });
  }
  return forwarder;
}
