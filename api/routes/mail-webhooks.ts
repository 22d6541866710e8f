import crypto from 'node:crypto';
import type { Request } from 'express';
import { z } from 'zod';
import { InboxModel } from '../../models';
import { webhookDeliveryKey } from '../../models/webhook-delivery';
import { problems } from '../problem';
import type { RouteTable } from '../routing';
import { errorResponses, problemSchema } from '../schemas';
import type { AppDeps } from '../deps';
import { handOverDeadline, withinDeadline } from '../hand-over';
import { forwarderOf, type HandOver } from '../webhook-forwarder';

/** The service account Gmail publishes watch notifications as. */
const GMAIL_PUSH_ACCOUNT = 'gmail-api-push@system.gserviceaccount.com';
const GOOGLE_ISSUERS = new Set(['https://accounts.google.com', 'accounts.google.com']);
const CLOCK_SKEW_SECONDS = 60;
/** Unknown key ids trigger at most one JWKS fetch per this interval (Google rotates keys rarely). */
const JWKS_REFETCH_MS = 60_000;

const pubsubPushSchema = z.looseObject({
  message: z.looseObject({ data: z.string().max(10_000), messageId: z.string().min(1).max(200) }),
  subscription: z.string().max(500).optional(),
});
const gmailNotificationSchema = z.looseObject({ emailAddress: z.email(), historyId: z.union([z.string(), z.number()]) });
const graphNotificationSchema = z.looseObject({
  subscriptionId: z.string().min(1).max(200),
  clientState: z.string().max(128).optional(),
  changeType: z.string().max(50).optional(),
  lifecycleEvent: z.string().max(50).optional(),
  resource: z.string().max(1000).optional(),
  resourceData: z.looseObject({ id: z.string().max(500).optional(), '@odata.etag': z.string().max(200).optional() }).optional(),
});
const graphBatchSchema = z.looseObject({ value: z.array(graphNotificationSchema).min(1).max(1000) });

function rawBody(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

function parseJson<S extends z.ZodType>(schema: S, raw: Buffer): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw problems.validation('body is not JSON');
  }
  const result = schema.safeParse(value);
  if (!result.success) throw problems.validation('body is not a notification');
  return result.data;
}

/** Compares secrets in constant time; different lengths are simply unequal. */
function secretsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && crypto.timingSafeEqual(left, right);
}

/**
 * Verifies Pub/Sub's OIDC push token: RS256 signed by a key from GOOGLE_JWKS_URL, issued by
 * Google, for our audience, as Gmail's push service account, not expired.
 */
class PubSubTokenVerifier {
  private keys = new Map<string, crypto.KeyObject>();
  private fetchedAt = 0;

  constructor(
    private readonly jwksUrl: string | undefined,
    private readonly audience: () => string,
  ) {}

  async verify(authorization: string | undefined): Promise<boolean> {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    const parts = token?.split('.');
    if (!parts || parts.length !== 3 || !this.jwksUrl) return false;
    const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
    let header: { alg?: string; kid?: string };
    let claims: { iss?: string; aud?: string; email?: string; email_verified?: boolean; exp?: number; iat?: number };
    try {
      header = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(claimsPart, 'base64url').toString('utf8'));
    } catch {
      return false;
    }
    if (header.alg !== 'RS256' || !header.kid) return false;
    const key = await this.key(header.kid);
    if (!key) return false;
    const signed = crypto.verify('RSA-SHA256', Buffer.from(`${headerPart}.${claimsPart}`), key, Buffer.from(signaturePart, 'base64url'));
    const now = Math.floor(Date.now() / 1000);
    return (
      signed &&
      GOOGLE_ISSUERS.has(claims.iss ?? '') &&
      claims.aud === this.audience() &&
      claims.email === GMAIL_PUSH_ACCOUNT &&
      claims.email_verified === true &&
      typeof claims.exp === 'number' &&
      claims.exp + CLOCK_SKEW_SECONDS > now &&
      (claims.iat === undefined || claims.iat - CLOCK_SKEW_SECONDS <= now)
    );
  }

  private async key(kid: string): Promise<crypto.KeyObject | undefined> {
    if (!this.keys.has(kid) && Date.now() - this.fetchedAt > JWKS_REFETCH_MS) {
      this.fetchedAt = Date.now();
      try {
        const response = await fetch(this.jwksUrl!);
        const jwks = (await response.json()) as { keys?: (crypto.JsonWebKey & { kid?: string })[] };
        this.keys = new Map((jwks.keys ?? []).filter((k) => k.kid).map((k) => [k.kid!, crypto.createPublicKey({ key: k, format: 'jwk' })]));
      } catch {
        this.fetchedAt = 0;
      }
    }
    return this.keys.get(kid);
  }
}

/**
 * Push notifications from Gmail (Pub/Sub) and Microsoft Graph (I3). Both are only hints: the
 * mailbox workflow re-reads the provider's changes from its own cursor, so a replayed, late or
 * duplicated notification costs one poll at most and never a duplicate ticket. A notification
 * that fails authentication is 401 and signals nothing (O4).
 */
export function addMailWebhookRoutes(routes: RouteTable, deps: AppDeps): void {
  const verifier = new PubSubTokenVerifier(deps.config.GOOGLE_JWKS_URL, () => deps.config.GOOGLE_PUBSUB_AUDIENCE ?? `${deps.publicBaseUrl()}/webhooks/gmail`);
  const unauthorized = { description: 'Not authenticated as the provider', schema: problemSchema, contentType: 'application/problem+json' };
  const unavailable = { description: 'Could not hand over; the provider retries', schema: problemSchema, contentType: 'application/problem+json' };

  const forwarder = forwarderOf(deps);
  const subscriptions = new GraphSubscriptions(deps);
  const wake = (inboxId: string, renewPush: boolean): HandOver => ({ type: 'mailbox', inboxId, renewPush });

  routes.add({
    method: 'post', path: '/webhooks/gmail', tag: 'webhooks', auth: 'webhook',
    summary: 'Gmail watch notification via Pub/Sub push (OIDC token from the Gmail push service account)',
    responses: {
      204: { description: 'Accepted, or a repeat of one already accepted' },
      400: errorResponses[400],
      401: unauthorized,
      503: unavailable,
    },
  }, async ({ req, res }) => {
    const deadlineAt = handOverDeadline();
    await withinDeadline((async () => {
      if (!(await verifier.verify(req.header('authorization')))) throw problems.unauthorized();
      const push = parseJson(pubsubPushSchema, rawBody(req));
      let notification: z.infer<typeof gmailNotificationSchema>;
      try {
        notification = gmailNotificationSchema.parse(JSON.parse(Buffer.from(push.message.data, 'base64').toString('utf8')));
      } catch {
        throw problems.validation('message.data is not a Gmail notification');
      }
      const inboxes = await InboxModel.find({ mailboxAddress: notification.emailAddress.toLowerCase(), provider: 'gmail', status: 'connected' }, { _id: 1 }).lean();
      await forwarder.accept(webhookDeliveryKey('gmail', push.message.messageId), inboxes.map((i) => wake(String(i._id), false)), deadlineAt);
    })());
    res.status(204).end();
  });

  routes.add({
    method: 'post', path: '/webhooks/graph', tag: 'webhooks', auth: 'webhook',
    summary: 'Microsoft Graph change and lifecycle notifications (validationToken handshake; clientState checked)',
    query: z.looseObject({ validationToken: z.string().max(1024).optional() }),
    responses: {
      200: { description: 'Validation handshake: the token echoed', schema: z.string(), contentType: 'text/plain' },
      202: { description: 'Accepted, or a repeat of one already accepted' },
      400: errorResponses[400],
      401: unauthorized,
      503: unavailable,
    },
  }, async ({ req, res, query }) => {
    if (query.validationToken !== undefined) {
      res.status(200).type('text/plain').send(query.validationToken);
      return;
    }
    const batch = parseJson(graphBatchSchema, rawBody(req));
    const deadlineAt = handOverDeadline();
    await withinDeadline((async () => {
      const bySubscription = await subscriptions.find(batch.value);
      await Promise.all(batch.value.map((notification) => {
        const inbox = bySubscription.get(notification.subscriptionId)!;
        // Change notifications repeat with the same (subscription, change, message, etag); lifecycle
        // events carry no id and are rare, so each one is acted on.
        const deliveryId = notification.lifecycleEvent
          ? undefined
          : [notification.subscriptionId, notification.changeType ?? '', notification.resourceData?.id ?? notification.resource ?? '', notification.resourceData?.['@odata.etag'] ?? ''].join(':');
        const renewPush = notification.lifecycleEvent === 'subscriptionRemoved' || notification.lifecycleEvent === 'reauthorizationRequired';
        return forwarder.accept(deliveryId && webhookDeliveryKey('graph', deliveryId), inbox.connected ? [wake(inbox.inboxId, renewPush)] : [], deadlineAt);
      }));
    })());
    res.status(202).end();
  });
}

interface GraphSubscription {
  inboxId: string;
  connected: boolean;
  clientState?: string;
}

/** How long a subscription's inbox is trusted from memory: a disconnect is seen this much later at most. */
const SUBSCRIPTION_CACHE_MS = 10_000;
const SUBSCRIPTION_CACHE_MAX = 10_000;

/**
 * Graph subscriptions by id, read once and kept briefly: the lookup filters on
 * `push.subscriptionId`, which FerretDB answers by decoding every inbox, and each notification
 * of a busy mailbox would repeat it. A secret that does not match what is held is checked again
 * against the database before refusing, so a renewed subscription is never turned away.
 */
class GraphSubscriptions {
  private readonly held = new Map<string, GraphSubscription & { until: number }>();

  constructor(private readonly deps: AppDeps) {}

  /** The inbox of every notification's subscription; throws 401 unless each one carries its secret. */
  async find(notifications: z.infer<typeof graphNotificationSchema>[]): Promise<Map<string, GraphSubscription>> {
    const found = new Map<string, GraphSubscription>();
    const now = Date.now();
    for (const n of notifications) {
      const held = this.held.get(n.subscriptionId);
      if (held && held.until > now && matches(held, n.clientState)) found.set(n.subscriptionId, held);
    }
    const unsure = [...new Set(notifications.map((n) => n.subscriptionId).filter((id) => !found.has(id)))];
    if (unsure.length > 0) for (const [id, subscription] of await this.load(unsure)) found.set(id, subscription);
    // Every notification of the batch must carry its subscription's secret, or none is acted on.
    for (const notification of notifications) {
      if (!matches(found.get(notification.subscriptionId), notification.clientState)) {
        this.deps.logger.warn({ subscriptionId: notification.subscriptionId }, 'graph notification with a wrong clientState rejected');
        throw problems.unauthorized();
      }
    }
    return found;
  }

  private async load(subscriptionIds: string[]): Promise<Map<string, GraphSubscription>> {
    const inboxes = await InboxModel.find({ 'push.subscriptionId': { $in: subscriptionIds } }, { 'push.subscriptionId': 1, status: 1 }).select('+push.clientState').lean();
    if (this.held.size + inboxes.length > SUBSCRIPTION_CACHE_MAX) this.held.clear();
    const loaded = new Map<string, GraphSubscription>();
    for (const inbox of inboxes) {
      const subscription = {
        inboxId: String(inbox._id),
        connected: inbox.status === 'connected',
        clientState: inbox.push?.clientState?.data ? this.deps.secrets.open(inbox.push.clientState as never) : undefined,
      };
      loaded.set(inbox.push!.subscriptionId!, subscription);
      this.held.set(inbox.push!.subscriptionId!, { ...subscription, until: Date.now() + SUBSCRIPTION_CACHE_MS });
    }
    return loaded;
  }
}

function matches(subscription: GraphSubscription | undefined, clientState: string | undefined): boolean {
  return Boolean(subscription?.clientState && clientState && secretsEqual(subscription.clientState, clientState));
}
