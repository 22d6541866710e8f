/** The webhook registry (v1 style: string ids, `STATUS` in the body). Tokens are write-only. */
import { Router } from 'express';
import { EmulatorError } from '../errors';
import { parseInput, v1WebhookBodySchema } from '../inputs';
import { WEBHOOK_EVENTS, type WebhookEvent, type WebhookRecord } from '../types';
import { recordId } from './params';
import { siteOf } from './site-middleware';

const webhookV1 = (webhook: WebhookRecord) => ({
  id: String(webhook.id),
  event: webhook.event,
  url: webhook.url,
  version: webhook.version,
  contentType: webhook.contentType,
  status: 'active',
  createdAt: webhook.createdAt,
});

function assertHttpUrl(url: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new EmulatorError('validation', 'The webhook URL is not a valid URL');
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw new EmulatorError('validation', 'The webhook URL must be http(s)');
}

export function webhookRoutes(): Router {
  const router = Router();

  router.get('/webhooks.json', (_req, res) => {
    res.json({ webhooks: [...siteOf(res).webhooks.values()].map(webhookV1), STATUS: 'OK' });
  });

  router.post('/webhooks.json', (req, res) => {
    const installation = siteOf(res);
    const { webhook: input } = parseInput(v1WebhookBodySchema, req.body);
    const event = input.event.toUpperCase() as WebhookEvent;
    if (!WEBHOOK_EVENTS.includes(event)) throw new EmulatorError('validation', `Unknown webhook event "${input.event}"`);
    assertHttpUrl(input.url);
    const version = String(input.version ?? '2');
    if (version !== '2') throw new EmulatorError('validation', 'Only version 2 webhooks are emulated');
    const contentType = input.contentType ?? 'application/json';
    if (contentType !== 'application/json') throw new EmulatorError('validation', 'Only application/json webhooks are emulated');
    for (const existing of installation.webhooks.values()) {
      if (existing.event === event && existing.url === input.url) {
        throw new EmulatorError('validation', `A webhook for ${event} to this URL already exists`);
      }
    }
    const webhook: WebhookRecord = {
      id: installation.nextId('webhooks'),
      event,
      url: input.url,
      version,
      contentType,
      token: input.token ?? '',
      createdAt: installation.clock.next(),
    };
    installation.webhooks.set(webhook.id, webhook);
    res.status(201).json({ id: String(webhook.id), STATUS: 'OK' });
  });

  router.delete('/webhooks/:id.json', (req, res) => {
    const installation = siteOf(res);
    if (!installation.webhooks.delete(recordId(req))) throw new EmulatorError('not_found', 'Webhook not found');
    res.json({ STATUS: 'OK' });
  });

  return router;
}
