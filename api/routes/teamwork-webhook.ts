import crypto from 'node:crypto';
import type { Request } from 'express';
import { isValidObjectId } from 'mongoose';
import { z } from 'zod';
import { SiteModel } from '../../models';
import { webhookDeliveryKey } from '../../models/webhook-delivery';
import { problems } from '../problem';
import type { RouteTable } from '../routing';
import { errorResponses, problemSchema } from '../schemas';
import type { AppDeps } from '../deps';
import { handOverDeadline, withinDeadline } from '../hand-over';
import { forwarderOf, type HandOver } from '../webhook-forwarder';
import { countWebhook } from '../../lib/metrics';

const entityOfEvent: Record<string, 'company' | 'customer'> = { COMPANY: 'company', USER: 'customer' };
const kindOfAction: Record<string, 'created' | 'updated' | 'deleted'> = { CREATED: 'created', UPDATED: 'updated', DELETED: 'deleted' };
const taskActions = new Set(['CREATED', 'UPDATED', 'COMPLETED', 'DELETED']);

/** Teamwork.com sends ids as numbers, some older payloads as numeric strings; nothing else names a record. */
const teamworkIdSchema = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).pipe(z.number().int().positive());
const payloadSchema = z.looseObject({
  company: z.looseObject({ id: teamworkIdSchema }).optional(),
  user: z.looseObject({ id: teamworkIdSchema }).optional(),
  task: z.looseObject({ id: teamworkIdSchema, description: z.string().nullish() }).optional(),
});

/**
 * Signed change notifications from Teamwork.com (C3, C5, C11, I13). The signature is checked against
 * the raw bytes in constant time; the event is only a hint: the link workflow re-reads the
 * record. A delivery id seen before changes nothing; one we could not hand over is forgotten
 * again, so Teamwork.com's retry is acted on (api/webhook-forwarder.ts).
 */
export function addTeamworkWebhookRoutes(routes: RouteTable, deps: AppDeps): void {
  const forwarder = forwarderOf(deps);
  // The read is shared: when a site's token expires under load, one lookup serves every delivery waiting.
  const tokens = new Map<string, { token: Promise<string | undefined>; until: number }>();
  const tokenOf = (siteId: string): Promise<string | undefined> => {
    const held = tokens.get(siteId);
    if (held && held.until > Date.now()) return held.token;
    const entry = {
      token: SiteModel.findById(siteId).select('+teamwork.webhookToken').lean().then((site) => (site?.teamwork?.webhookToken ? deps.secrets.open(site.teamwork.webhookToken as never) : undefined)),
      until: Date.now() + 60_000,
    };
    tokens.set(siteId, entry);
    // Unknown sites and failed reads are not remembered.
    const drop = () => void (tokens.get(siteId) === entry && tokens.delete(siteId));
    entry.token.then((token) => token === undefined && drop(), drop);
    return entry.token;
  };

  routes.add({
    method: 'post', path: '/webhooks/teamwork', tag: 'webhooks', auth: 'webhook',
    summary: 'Teamwork.com webhook (X-Projects-Signature: hex HMAC-SHA256 of the raw body)',
    query: z.strictObject({ site: z.string().refine(isValidObjectId, 'not a site id') }),
    responses: {
      200: { description: 'Accepted (or a repeat of one already accepted)', schema: z.object({ status: z.enum(['accepted', 'duplicate', 'ignored']) }) },
      400: errorResponses[400],
      401: { description: 'Missing or wrong signature', schema: problemSchema, contentType: 'application/problem+json' },
      503: { description: 'Could not hand over; retry', schema: problemSchema, contentType: 'application/problem+json' },
    },
  }, async ({ req, res, query }) => {
    res.json({ status: await countWebhook('teamwork', withinDeadline(handleDelivery(req, query.site, handOverDeadline()))) });
  });

  async function handleDelivery(req: Request, site: string, deadlineAt: number): Promise<'accepted' | 'duplicate' | 'ignored'> {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const token = await tokenOf(site);
    if (!token || !signatureMatches(raw, token, req.header('x-projects-signature'))) throw problems.unauthorized();

    const [entityName, action, ...rest] = (req.header('x-projects-event') ?? '').toUpperCase().split('.');
    if (rest.length > 0) return 'ignored';
    const isTask = entityName === 'TASK' && taskActions.has(action ?? '');
    const entity = entityOfEvent[entityName ?? ''];
    const kind = kindOfAction[action ?? ''];
    if (!isTask && (!entity || !kind)) return 'ignored';
    let payload: z.infer<typeof payloadSchema>;
    try {
      payload = payloadSchema.parse(JSON.parse(raw.toString('utf8')));
    } catch {
      throw problems.validation('the body is not a Teamwork.com webhook payload');
    }
    const payloadKey = isTask ? 'task' : entity === 'company' ? 'company' : 'user';
    const teamworkId = payload[payloadKey]?.id;
    if (!teamworkId) throw problems.validation(`the payload has no ${payloadKey}.id`);

    const deliveryKey = webhookDeliveryKey('teamwork', req.header('x-projects-delivery') ?? crypto.createHash('sha256').update(raw).digest('hex'));
    const handOver: HandOver = isTask
      ? { type: 'teamwork-task', siteId: site, teamworkTaskId: teamworkId, description: payload.task?.description ?? undefined }
      : { type: 'teamwork-change', siteId: site, entity: entity!, teamworkId, kind: kind! };
    return forwarder.accept(deliveryKey, [handOver], deadlineAt);
  }
}

/** Constant-time comparison of the hex signature; every kind of mismatch looks the same. */
export function signatureMatches(raw: Buffer, token: string, signature: string | undefined): boolean {
  if (!signature || !/^[0-9a-f]+$/i.test(signature)) return false;
  const expected = crypto.createHmac('sha256', token).update(raw).digest();
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}
