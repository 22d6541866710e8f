import crypto from 'node:crypto';
import type { Request } from 'express';
import { z } from 'zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import { InboxModel } from '../../models';
import { forgetWebhookDelivery, recordWebhookDelivery, webhookDeliveryKey } from '../../models/webhook-delivery';
import { Problem, problems } from '../problem';
import type { RouteTable } from '../routing';
import { errorResponses, problemSchema } from '../schemas';
import type { AppDeps } from '../deps';
import { mailChangedSignal } from '../../workflows/mailbox';
import { withinDeadline } from '../hand-over';
import { workflowIds } from '../../workflows/ids';

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

  /**
   * Signals each inbox's workflow; a delivery that could not be handed over is forgotten so its
   * retry counts. Deliveries without an id of their own (`key` undefined) are not deduplicated.
   */
  const hint = async (key: string | undefined, inboxIds: string[], renewPush: boolean): Promise<'accepted' | 'duplicate'> => {
    if (key && !(await recordWebhookDelivery(key))) return 'duplicate';
    try {
      for (const inboxId of inboxIds) {
        try {
          await withinDeadline(deps.temporal.workflow.getHandle(workflowIds.mailbox(inboxId)).signal(mailChangedSignal, { renewPush }));
        } catch (err) {
          // No running import (never connected, or deleted meanwhile): nothing to wake.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
      }
    } catch (err) {
      if (key) await forgetWebhookDelivery(key);
      throw new Problem(503, 'unavailable', 'Service unavailable', `could not hand the notification over: ${(err as Error).message}`);
    }
    return 'accepted';
  };

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
    if (!(await verifier.verify(req.header('authorization')))) throw problems.unauthorized();
    const push = parseJson(pubsubPushSchema, rawBody(req));
    let notification: z.infer<typeof gmailNotificationSchema>;
    try {
      notification = gmailNotificationSchema.parse(JSON.parse(Buffer.from(push.message.data, 'base64').toString('utf8')));
    } catch {
      throw problems.validation('message.data is not a Gmail notification');
    }
    const inboxes = await InboxModel.find({ mailboxAddress: notification.emailAddress.toLowerCase(), provider: 'gmail', status: 'connected' }, { _id: 1 }).lean();
    await hint(webhookDeliveryKey('gmail', push.message.messageId), inboxes.map((i) => String(i._id)), false);
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
    const subscriptionIds = [...new Set(batch.value.map((n) => n.subscriptionId))];
    const inboxes = await InboxModel.find({ 'push.subscriptionId': { $in: subscriptionIds } }, { 'push.subscriptionId': 1, status: 1 }).select('+push.clientState').lean();
    const bySubscription = new Map(inboxes.map((inbox) => [inbox.push!.subscriptionId!, inbox]));
    // Every notification of the batch must carry its subscription's secret, or none is acted on.
    for (const notification of batch.value) {
      const inbox = bySubscription.get(notification.subscriptionId);
      const expected = inbox?.push?.clientState?.data ? deps.secrets.open(inbox.push.clientState as never) : undefined;
      if (!expected || !notification.clientState || !secretsEqual(expected, notification.clientState)) {
        deps.logger.warn({ subscriptionId: notification.subscriptionId }, 'graph notification with a wrong clientState rejected');
        throw problems.unauthorized();
      }
    }
    for (const notification of batch.value) {
      const inbox = bySubscription.get(notification.subscriptionId)!;
      // Change notifications repeat with the same (subscription, change, message, etag); lifecycle
      // events carry no id and are rare, so each one is acted on.
      const deliveryId = notification.lifecycleEvent
        ? undefined
        : [notification.subscriptionId, notification.changeType ?? '', notification.resourceData?.id ?? notification.resource ?? '', notification.resourceData?.['@odata.etag'] ?? ''].join(':');
      const renewPush = notification.lifecycleEvent === 'subscriptionRemoved' || notification.lifecycleEvent === 'reauthorizationRequired';
      await hint(deliveryId && webhookDeliveryKey('graph', deliveryId), inbox.status === 'connected' ? [String(inbox._id)] : [], renewPush);
    }
    res.status(202).end();
  });
}
