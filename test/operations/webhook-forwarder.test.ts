import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Types } from 'mongoose';
import request from 'supertest';
import { freePort } from '../../infra';
import { InboxModel } from '../../models';
import { BatchedInsert } from '../../models/batched-insert';
import { WebhookDeliveryModel } from '../../models/webhook-delivery';
import { WebhookForwarderModel, WebhookOutboxModel } from '../../models/webhook-outbox';
import { defaultForwarderOptions, WebhookForwarder, type ForwarderOptions, type HandOver } from '../../api/webhook-forwarder';
import { startTestSystem, type TestSystem } from '../support/system';
import { eventually } from '../support/eventually';

/**
 * The webhook hand-over under load and outages (issue 7): Temporal is replaced by a fake whose
 * answers the test holds back or fails, so what is acknowledged when can be observed exactly.
 */
describe('webhook hand-over to Temporal (O4, C14, I3)', () => {
  let system: TestSystem;
  const forwarders: WebhookForwarder[] = [];
  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
  });
  afterAll(async () => {
    for (const forwarder of forwarders) forwarder.stop();
    await system?.stop();
  });

  /** A stand-in for Temporal: records the workflows signalled; `hold` keeps answers back until `release`. */
  function fakeTemporal() {
    const signalled: string[] = [];
    let mode: 'ok' | 'fail' | 'reject' | 'hold' = 'ok';
    let release = () => undefined as void;
    let held = new Promise<void>((resolve) => (release = resolve));
    const temporal = {
      withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
      workflow: {
        getHandle: (workflowId: string) => ({
          signal: async () => {
            signalled.push(workflowId);
            if (mode === 'fail') throw new Error('temporal down');
            // What the gRPC client raises when Temporal answers and refuses the request itself.
            if (mode === 'reject') throw Object.assign(new Error('3 INVALID_ARGUMENT: bad request'), { code: 3, details: 'bad request', metadata: {} });
            if (mode === 'hold') await held;
          },
        }),
      },
    };
    return {
      temporal: temporal as unknown as Client,
      signalled,
      set(next: 'ok' | 'fail' | 'reject' | 'hold') {
        if (next === 'hold') held = new Promise<void>((resolve) => (release = resolve));
        mode = next;
      },
      release: () => release(),
    };
  }

  function forwarderWith(temporal: Client, options: Partial<ForwarderOptions> & { temporalAddress?: string } = {}): WebhookForwarder {
    const config = { ...system.config, TEMPORAL_ADDRESS: options.temporalAddress ?? system.config.TEMPORAL_ADDRESS };
    const forwarder = new WebhookForwarder(
      { temporal, config, logger: system.runtime.logger, mongoose: system.runtime.mongoose },
      { ...defaultForwarderOptions, pruneEveryMs: 50, ...options },
    );
    forwarders.push(forwarder);
    return forwarder;
  }

  const wake = (inboxId: string): HandOver => ({ type: 'mailbox', inboxId, renewPush: false });
  const key = () => `test:${crypto.randomUUID()}`;
  const inSeconds = (s: number) => Date.now() + s * 1000;

  test('O4 When Temporal is busy, Then further deliveries are acknowledged from the outbox, those for one inbox share one outbox record and coalesce into one later signal', async () => {
    const fake = fakeTemporal();
    const forwarder = forwarderWith(fake.temporal, { concurrency: 1 });
    fake.set('hold');
    const first = forwarder.accept(key(), [wake('busy-inbox')], inSeconds(10));
    await eventually(() => fake.signalled.length, (n) => n === 1, 5_000, 5);

    // The one send on its way may land before these changes were made: they must not ride on it.
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(await forwarder.accept(key(), [wake('busy-inbox')], inSeconds(10)));
    expect(answers).toEqual(Array(20).fill('accepted'));
    expect(fake.signalled).toHaveLength(1);
    expect(await WebhookOutboxModel.countDocuments({ by: forwarder.id })).toBe(1);
    expect(forwarder.unforwarded()).toBe(20);

    fake.set('ok');
    fake.release();
    expect(await first).toBe('accepted');
    await eventually(() => forwarder.unforwarded(), (n) => n === 0, 5_000, 10);
    expect(fake.signalled).toEqual(['mailbox/busy-inbox', 'mailbox/busy-inbox']);
    expect(await eventually(() => WebhookOutboxModel.countDocuments({ by: forwarder.id }), (n) => n === 0, 5_000, 20)).toBe(0);
  });

  test('O4 When Temporal is stopped, Then every delivery is answered 503 within 3 s and none stays recorded, so each redelivery counts', async () => {
    const fake = fakeTemporal();
    const closedPort = await freePort();
    const forwarder = forwarderWith(fake.temporal, { concurrency: 1, temporalAddress: `127.0.0.1:${closedPort}` });
    fake.set('hold');
    const keys = Array.from({ length: 10 }, key);
    const started = Date.now();
    const answers = await Promise.all(
      keys.map(async (k, i) => {
        const answer = await forwarder.accept(k, [wake(`stopped-${i}`)], inSeconds(2.3)).then(String, (err: { status?: number }) => err.status);
        return { answer, ms: Date.now() - started };
      }),
    );
    expect(answers.map((a) => a.answer)).toEqual(Array(10).fill(503));
    // Not at the deadline: the first, waiting for its send, after one connection attempt to the
    // port; the others before anything was written.
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(1_500);
    expect(await WebhookDeliveryModel.countDocuments({ _id: { $in: keys } })).toBe(0);
    expect(await WebhookOutboxModel.countDocuments({ by: forwarder.id })).toBe(0);
    expect(forwarder.refusing()).toBe(true);
  });

  test('O4 When Temporal failed, Then one delivery at a time is tried, the others are refused at once, and the first success takes all again', async () => {
    const fake = fakeTemporal();
    const forwarder = forwarderWith(fake.temporal);
    fake.set('fail');
    await expect(forwarder.accept(key(), [wake('trial')], inSeconds(2))).rejects.toMatchObject({ status: 503 });
    expect(forwarder.refusing()).toBe(true);

    fake.set('hold');
    const trial = forwarder.accept(key(), [wake('trial')], inSeconds(5));
    const refusedKey = key();
    const started = Date.now();
    await expect(forwarder.accept(refusedKey, [wake('other')], inSeconds(5))).rejects.toMatchObject({ status: 503 });
    expect(Date.now() - started).toBeLessThan(500);
    expect(await WebhookDeliveryModel.countDocuments({ _id: refusedKey })).toBe(0);

    fake.set('ok');
    fake.release();
    expect(await trial).toBe('accepted');
    expect(forwarder.refusing()).toBe(false);
    expect(await forwarder.accept(key(), [wake('other')], inSeconds(2))).toBe('accepted');
  });

  test('O4 When Temporal refuses one acknowledged change for good, Then it is dropped after a few attempts and other deliveries are not refused meanwhile', async () => {
    const fake = fakeTemporal();
    const forwarder = forwarderWith(fake.temporal, { concurrency: 1, retryInitialMs: 10, retryMaxMs: 20, rejectedAttempts: 3 });
    fake.set('hold');
    const first = forwarder.accept(key(), [wake('first')], inSeconds(5));
    await eventually(() => fake.signalled.length, (n) => n === 1, 5_000, 5);
    expect(await forwarder.accept(key(), [wake('refused')], inSeconds(5))).toBe('accepted');
    fake.set('reject');
    fake.release();
    expect(await first).toBe('accepted');

    await eventually(() => forwarder.unforwarded(), (n) => n === 0, 5_000, 10);
    expect(fake.signalled.filter((id) => id === 'mailbox/refused')).toHaveLength(3);
    expect(forwarder.refusing()).toBe(false);
    fake.set('ok');
    expect(await forwarder.accept(key(), [wake('next')], inSeconds(2))).toBe('accepted');
  });

  test('O4 When an API process dies with acknowledged changes in its outbox, Then another process forwards them and clears them', async () => {
    const dying = fakeTemporal();
    const dead = forwarderWith(dying.temporal, { concurrency: 1 });
    dying.set('hold');
    await expect(dead.accept(key(), [wake('stuck')], inSeconds(0.3))).rejects.toMatchObject({ status: 503 });
    const orphans = ['orphan-1', 'orphan-2', 'orphan-3'];
    for (const inboxId of [...orphans, 'orphan-1']) expect(await dead.accept(key(), [wake(inboxId)], inSeconds(5))).toBe('accepted');
    dead.stop();
    // The second change to orphan-1 relies on the first one's record.
    expect(await WebhookOutboxModel.countDocuments({ by: dead.id })).toBe(3);

    const healthy = fakeTemporal();
    const survivor = forwarderWith(healthy.temporal, { staleAfterMs: 300 });
    const forwardedOrphans = () => healthy.signalled.filter((id) => orphans.some((orphan) => id === `mailbox/${orphan}`)).sort();
    await survivor.sweep();
    expect(forwardedOrphans()).toEqual([]);
    await new Promise((r) => setTimeout(r, 400));
    await survivor.sweep();
    expect(forwardedOrphans()).toEqual(orphans.map((id) => `mailbox/${id}`));
    expect(await WebhookOutboxModel.countDocuments({ by: dead.id })).toBe(0);
    expect(await WebhookForwarderModel.countDocuments({ _id: dead.id })).toBe(0);
  });

  test('C14 When duplicates of one delivery are recorded in the same batch as others, Then each duplicate alone is refused', async () => {
    const collection = system.runtime.mongoose.connection.db!.collection('batched_insert_test');
    await collection.insertOne({ _id: 'seen' as never });
    const inserts = new BatchedInsert(() => collection);
    const outcomes = await Promise.all(['a', 'seen', 'b', 'a', 'c'].map((id) => inserts.insert({ _id: id })));
    expect(outcomes).toEqual(['inserted', 'duplicate', 'inserted', 'duplicate', 'inserted']);
    expect(await collection.countDocuments()).toBe(4);
  });

  test('I3 When a Graph subscription gets a new clientState, Then notifications with it are accepted at once and ones with the old secret are refused', async () => {
    const subscriptionId = crypto.randomUUID();
    const [oldState, newState] = [crypto.randomBytes(24).toString('base64url'), crypto.randomBytes(24).toString('base64url')];
    const ownerId = new Types.ObjectId();
    const inbox = await InboxModel.create({
      siteId: new Types.ObjectId(), name: 'Cached', provider: 'outlook', createdBy: ownerId, status: 'connected', mailboxAddress: 'cached@example.com',
      members: [{ userId: ownerId, access: 'read_reply', inboxAdmin: true }],
      push: { subscriptionId, clientState: system.runtime.secrets.seal(oldState), expiresAt: new Date(Date.now() + 86_400_000) },
    });
    const notify = (clientState: string) =>
      request(system.app).post('/webhooks/graph').set('content-type', 'application/json').send({ value: [{ subscriptionId, clientState, changeType: 'created', resource: `me/messages/${crypto.randomUUID()}` }] });

    expect((await notify(oldState)).status).toBe(202);
    await InboxModel.updateOne({ _id: inbox._id }, { $set: { 'push.clientState': system.runtime.secrets.seal(newState) } });
    expect((await notify(newState)).status).toBe(202);
    expect((await notify(oldState)).status).toBe(401);
  });
});
