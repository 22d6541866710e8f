import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@microsoft/microsoft-graph-client';
import { buildRawMessage } from '../../emulators/mail/generate';
import { emulatorGraphClientOptions, startGraphEmulator, type GraphEmulator } from '../../emulators/graph';
import type { SeedMessage } from '../../emulators/mail/types';

const AGENT = 'agent@desk.test';

interface ReceivedCall {
  path: string;
  validationToken: string | null;
  body: unknown;
}

/** A tiny webhook endpoint: echoes validation tokens like a correct receiver, otherwise answers `status()`. */
async function startReceiver(options: { echo?: (token: string) => string; status?: () => number } = {}) {
  const calls: ReceivedCall[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://receiver');
      const validationToken = url.searchParams.get('validationToken');
      const text = Buffer.concat(chunks).toString('utf8');
      calls.push({ path: url.pathname, validationToken, body: text ? JSON.parse(text) : null });
      if (validationToken !== null) {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end((options.echo ?? ((token) => token))(validationToken));
        return;
      }
      res.writeHead(options.status?.() ?? 202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, calls, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function newMail(index: number): SeedMessage {
  const receivedAt = new Date();
  return {
    raw: buildRawMessage({ from: `c${index}@acme.test`, to: AGENT, subject: `New ${index}`, body: 'hi', messageId: `<new${index}@acme.test>`, date: receivedAt }),
    receivedAt,
    threadKey: `new-${index}`,
  };
}

function inMinutes(minutes: number): string {
  return new Date(Date.now() + minutes * 60_000).toISOString();
}

describe('Graph emulator change notifications', () => {
  let emulator: GraphEmulator;
  let client: Client;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  afterEach(async () => {
    await emulator.close();
    await receiver.close();
  });

  async function setUp(receiverOptions: Parameters<typeof startReceiver>[0] = {}) {
    receiver = await startReceiver(receiverOptions);
    emulator = await startGraphEmulator({ notificationRetryDelaysMs: [20, 20, 20], notificationTimeoutMs: 500 });
    emulator.control.createAccount(AGENT);
    const { access_token: accessToken } = emulator.control.issueTokens(AGENT);
    client = Client.initWithMiddleware(emulatorGraphClientOptions(emulator, async () => accessToken));
  }

  const subscriptionBody = () => ({
    changeType: 'created',
    notificationUrl: `${receiver.base}/webhooks/graph`,
    lifecycleNotificationUrl: `${receiver.base}/webhooks/graph/lifecycle`,
    resource: "/me/mailfolders('inbox')/messages",
    expirationDateTime: inMinutes(60),
    clientState: 'secret-client-state',
  });

  test('I3 creating a subscription first validates the endpoint, then new mail is notified with clientState', async () => {
    await setUp();
    const subscription = await client.api('/subscriptions').post(subscriptionBody());
    expect(subscription).toMatchObject({ changeType: 'created', clientState: 'secret-client-state', resource: "/me/mailfolders('inbox')/messages" });
    const validations = receiver.calls.filter((call) => call.validationToken !== null);
    expect(validations.map((call) => call.path)).toEqual(['/webhooks/graph', '/webhooks/graph/lifecycle']);
    expect(validations[0]!.validationToken).toMatch(/^Validation: Testing client application reachability/);

    const delivered = await emulator.control.deliver(AGENT, newMail(1));
    await emulator.control.notificationsSettled();
    const notifications = receiver.calls.filter((call) => call.validationToken === null);
    expect(notifications).toHaveLength(1);
    const me = await client.api('/me').get();
    expect(notifications[0]!.body).toEqual({
      value: [
        {
          subscriptionId: subscription.id,
          subscriptionExpirationDateTime: subscription.expirationDateTime,
          changeType: 'created',
          resource: `Users/${me.id}/Messages/${delivered.id}`,
          resourceData: {
            '@odata.type': '#Microsoft.Graph.Message',
            '@odata.id': `Users/${me.id}/Messages/${delivered.id}`,
            '@odata.etag': expect.stringMatching(/^W\//),
            id: delivered.id,
          },
          clientState: 'secret-client-state',
          tenantId: emulator.tenantId,
        },
      ],
    });
  });

  test('I3 an endpoint that does not echo the decoded token gets no subscription (400 ValidationError)', async () => {
    await setUp({ echo: (token) => encodeURIComponent(token) });
    await expect(client.api('/subscriptions').post(subscriptionBody())).rejects.toMatchObject({ statusCode: 400, code: 'ValidationError' });
    expect(emulator.control.subscriptions()).toEqual([]);
  });

  test('I3 renewal by PATCH extends expiry; expiry beyond the maximum is refused', async () => {
    await setUp();
    const subscription = await client.api('/subscriptions').post(subscriptionBody());
    const renewed = await client.api(`/subscriptions/${subscription.id}`).patch({ expirationDateTime: inMinutes(10_000) });
    expect(new Date(renewed.expirationDateTime).getTime()).toBeGreaterThan(new Date(subscription.expirationDateTime).getTime());
    await expect(client.api(`/subscriptions/${subscription.id}`).patch({ expirationDateTime: inMinutes(10_081) })).rejects.toMatchObject({ statusCode: 400 });
    await client.api(`/subscriptions/${subscription.id}`).delete();
    await expect(client.api(`/subscriptions/${subscription.id}`).get()).rejects.toMatchObject({ statusCode: 404 });
  });

  test('I3 failed deliveries are retried, faults drop and duplicate, lifecycle events reach the lifecycle URL', async () => {
    let failuresLeft = 2;
    await setUp({ status: () => (failuresLeft-- > 0 ? 500 : 202) });
    const subscription = await client.api('/subscriptions').post(subscriptionBody());

    await emulator.control.deliver(AGENT, newMail(1));
    await emulator.control.notificationsSettled();
    const attempts = emulator.control.notificationLog().filter((entry) => entry.kind === 'change');
    expect(attempts.map((entry) => [entry.attempt, entry.status])).toEqual([[1, 500], [2, 500], [3, 202]]);

    emulator.control.injectFaults({ dropNotifications: 1, duplicateNotifications: 1 });
    await emulator.control.deliver(AGENT, newMail(2));
    await emulator.control.deliver(AGENT, newMail(3));
    await emulator.control.notificationsSettled();
    const notifiedIds = receiver.calls
      .filter((call) => call.validationToken === null && call.path === '/webhooks/graph')
      .map((call) => (call.body as { value: { resourceData: { id: string } }[] }).value[0]!.resourceData.id);
    const idsByMail = emulator.control.messages(AGENT, 'inbox');
    const third = idsByMail.find((message) => message.internetMessageId === '<new3@acme.test>')!;
    const second = idsByMail.find((message) => message.internetMessageId === '<new2@acme.test>')!;
    expect(notifiedIds.filter((id) => id === second.id)).toHaveLength(0);
    expect(notifiedIds.filter((id) => id === third.id)).toHaveLength(2);

    emulator.control.fireLifecycle(subscription.id, 'missed');
    emulator.control.fireLifecycle(subscription.id, 'subscriptionRemoved');
    await emulator.control.notificationsSettled();
    const lifecycle = receiver.calls.filter((call) => call.path === '/webhooks/graph/lifecycle' && call.validationToken === null);
    expect(lifecycle.map((call) => (call.body as { value: { lifecycleEvent: string; clientState: string }[] }).value[0])).toEqual([
      expect.objectContaining({ lifecycleEvent: 'missed', clientState: 'secret-client-state', subscriptionId: subscription.id }),
      expect.objectContaining({ lifecycleEvent: 'subscriptionRemoved', subscriptionId: subscription.id }),
    ]);
    await expect(client.api(`/subscriptions/${subscription.id}`).get()).rejects.toMatchObject({ statusCode: 404 });
  });
});
