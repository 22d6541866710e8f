import crypto from 'node:crypto';
import { z } from 'zod';
import { InboxModel, OAuthConnectionModel, OAuthConsentModel, type MailProvider } from '../../models';
import { hashToken } from '../../lib/secrets';
import type { Config } from '../../lib/config';
import { consentUrl, exchangeAuthorizationCode, mailProviderSettings, pkcePair, type MailProviderSettings, type ProviderTokens } from '../../activities/mail/oauth';
import { GmailConnector } from '../../activities/mail/gmail';
import { GraphConnector } from '../../activities/mail/graph';
import { MailProviderError } from '../../activities/mail/errors';
import { Semaphore } from '../../activities/mail/connector';
import { Problem, problems } from '../problem';
import type { RouteTable } from '../routing';
import { errorResponses, idParams, problemSchema } from '../schemas';
import type { AppDeps } from '../deps';
import { loadManageableInbox } from '../access/inbox-access';
import { inboxView, inboxViewSchema } from './inboxes';
import { reconnectedSignal, type MailboxInput, type mailbox } from '../../workflows/mailbox';
import { workflowIds } from '../../workflows/ids';
import { inboxIdAttribute, siteIdAttribute } from '../../workflows/search-attributes';

/** Long enough to click through a consent screen, short enough that a leaked state is useless. */
const CONSENT_TTL_MS = 10 * 60_000;

const connectBodySchema = z.strictObject({ loginHint: z.email().max(254).optional() });
/** Providers add their own parameters (Google `scope`/`authuser`, Microsoft `session_state`). */
const callbackQuerySchema = z.looseObject({
  state: z.string().min(16).max(512),
  code: z.string().min(1).max(4096).optional(),
  error: z.string().max(200).optional(),
});
const providerParams = z.strictObject({ provider: z.enum(['gmail', 'outlook']) });

export function mailboxTuning(config: Config): MailboxInput['tuning'] {
  return {
    importDays: config.MAILBOX_IMPORT_DAYS,
    pollIntervalSeconds: config.MAILBOX_POLL_INTERVAL_SECONDS,
    pushRenewIntervalSeconds: config.MAILBOX_PUSH_RENEW_INTERVAL_SECONDS,
    subscriptionMinutes: config.MAILBOX_SUBSCRIPTION_MINUTES,
    batchSize: config.MAILBOX_BATCH_SIZE,
    concurrentBatches: config.MAILBOX_CONCURRENT_BATCHES,
    heartbeatTimeoutSeconds: config.MAILBOX_HEARTBEAT_TIMEOUT_SECONDS,
  };
}

/**
 * Starts `mailbox/{inboxId}`, or tells the running one that consent is back (I2): it then resumes
 * from its own cursor, so a reconnect neither skips nor repeats mail.
 */
export async function startOrResumeMailbox(deps: Pick<AppDeps, 'temporal' | 'config'>, inbox: { _id: unknown; siteId: unknown; importEmails?: boolean | null }): Promise<string> {
  const inboxId = String(inbox._id);
  const siteId = String(inbox.siteId);
  const workflowId = workflowIds.mailbox(inboxId);
  await deps.temporal.workflow.signalWithStart<typeof mailbox, []>('mailbox', {
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    workflowId,
    args: [{ inboxId, siteId, importEmails: Boolean(inbox.importEmails), tuning: mailboxTuning(deps.config) }],
    signal: reconnectedSignal,
    signalArgs: [],
    typedSearchAttributes: [
      { key: inboxIdAttribute, value: inboxId },
      { key: siteIdAttribute, value: siteId },
    ],
    memo: { siteId, inboxId, kind: 'mailbox' },
  });
  return workflowId;
}

/** The mailbox the tokens belong to, asked of the provider with the fresh access token. */
async function mailboxAddressOf(settings: MailProviderSettings, provider: MailProvider, tokens: ProviderTokens, config: Config): Promise<string> {
  const token = async () => tokens.accessToken;
  const connector = provider === 'gmail' ? new GmailConnector(settings, token, new Semaphore(1), config.GOOGLE_PUBSUB_TOPIC) : new GraphConnector(settings, token, new Semaphore(1));
  return connector.mailboxAddress();
}

/** Connecting an inbox to its mailbox through the provider's OAuth consent (I2). */
export function addOAuthRoutes(routes: RouteTable, deps: AppDeps): void {
  const settings = mailProviderSettings(deps.config);
  const redirectUriOf = (provider: MailProvider) => `${deps.publicBaseUrl()}/oauth/${provider}/callback`;

  routes.add({
    method: 'post', path: '/api/inboxes/:id/connect', tag: 'inboxes', auth: 'user',
    summary: "The provider's consent URL for this inbox, with a single-use state and PKCE (I2)",
    params: idParams,
    body: connectBodySchema,
    responses: {
      200: { description: 'Where to send the user', schema: z.object({ consentUrl: z.string(), expiresAt: z.string() }) },
      400: errorResponses[400], 401: errorResponses[401], 403: { ...errorResponses[404], description: 'Visible, but the caller may not manage it' }, 404: errorResponses[404],
    },
  }, async ({ actor, params, body, res }) => {
    const inbox = await loadManageableInbox(actor, params.id);
    const provider = inbox.provider as MailProvider;
    const state = crypto.randomBytes(32).toString('base64url');
    const { codeVerifier, codeChallenge } = pkcePair();
    const expiresAt = new Date(Date.now() + CONSENT_TTL_MS);
    await OAuthConsentModel.create({
      stateHash: hashToken(state),
      inboxId: inbox._id,
      siteId: inbox.siteId,
      userId: actor.userId,
      provider,
      codeVerifier: deps.secrets.seal(codeVerifier),
      expiresAt,
    });
    const url = consentUrl(settings, provider, { state, codeChallenge, redirectUri: redirectUriOf(provider), loginHint: body?.loginHint ?? inbox.mailboxAddress ?? undefined });
    res.json({ consentUrl: url, expiresAt: expiresAt.toISOString() });
  });

  routes.add({
    method: 'get', path: '/oauth/:provider/callback', tag: 'inboxes', auth: 'oauth',
    summary: 'Consent callback: checks state and PKCE, stores the tokens sealed, starts or resumes the import (I2)',
    params: providerParams,
    query: callbackQuerySchema,
    responses: {
      200: { description: 'Connected', schema: z.object({ inbox: inboxViewSchema }) },
      400: { description: 'Unknown, expired or used state; consent denied; code refused', schema: problemSchema, contentType: 'application/problem+json' },
      409: { description: 'The consent is for another mailbox than the one this inbox imports', schema: problemSchema, contentType: 'application/problem+json' },
      502: { description: 'The provider could not be reached', schema: problemSchema, contentType: 'application/problem+json' },
    },
  }, async ({ params, query, res }) => {
    const provider = params.provider;
    // Deleting it on first use makes the state single-use even when two callbacks race.
    const consent = await OAuthConsentModel.findOneAndDelete({ stateHash: hashToken(query.state), provider }).select('+codeVerifier').lean();
    if (!consent || consent.expiresAt.getTime() <= Date.now()) throw new Problem(400, 'invalid-state', 'Consent request not recognised', 'the state is unknown, expired or already used; connect again');
    if (query.error || !query.code) throw new Problem(400, 'consent-denied', 'Consent was not given', query.error ?? 'no authorization code');
    const inbox = await InboxModel.findOne({ _id: consent.inboxId, siteId: consent.siteId }).lean();
    if (!inbox) throw problems.notFound('Inbox');

    let tokens: ProviderTokens;
    let address: string;
    try {
      tokens = await exchangeAuthorizationCode(settings, provider, { code: query.code, codeVerifier: deps.secrets.open(consent.codeVerifier as never), redirectUri: redirectUriOf(provider) });
      address = await mailboxAddressOf(settings, provider, tokens, deps.config);
    } catch (err) {
      if (err instanceof MailProviderError && !err.retryable) throw new Problem(400, 'consent-failed', 'The provider refused the authorization code', err.message);
      if (err instanceof MailProviderError) throw new Problem(502, 'provider-unavailable', 'The provider could not be reached', err.message);
      throw err;
    }
    if (inbox.mailboxAddress && inbox.mailboxAddress !== address) {
      throw problems.conflict(`this inbox imports ${inbox.mailboxAddress}; consent was given for another mailbox`);
    }
    const existing = await OAuthConnectionModel.exists({ inboxId: inbox._id, refreshToken: { $exists: true } });
    if (!tokens.refreshToken && !existing) throw new Problem(400, 'consent-failed', 'No offline access granted', 'the provider returned no refresh token');

    await OAuthConnectionModel.updateOne(
      { inboxId: inbox._id },
      {
        $set: {
          siteId: inbox.siteId,
          provider,
          connectedBy: consent.userId,
          mailboxAddress: address,
          scope: tokens.scope,
          accessToken: deps.secrets.seal(tokens.accessToken),
          accessTokenExpiresAt: tokens.expiresAt,
          ...(tokens.refreshToken ? { refreshToken: deps.secrets.seal(tokens.refreshToken) } : {}),
        },
        $unset: { revokedAt: 1 },
        $inc: { tokenVersion: 1 },
      },
      { upsert: true },
    );
    const workflowId = workflowIds.mailbox(String(inbox._id));
    await InboxModel.updateOne({ _id: inbox._id }, { $set: { status: 'connected', mailboxAddress: address, connectedAt: new Date(), workflowId } });
    const connected = await InboxModel.findById(inbox._id).lean();
    await startOrResumeMailbox(deps, inbox);
    res.json({ inbox: inboxView(connected!) });
  });
}
