import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseRawMessage } from '../../domain/mail';
import type { Config } from '../../lib/config';
import type { SecretBox } from '../../lib/secrets';
import { InboxModel, SiteModel, TicketMessageModel, type ImportCounts, type MailProvider } from '../../models';
import { signalLinkChanged, type WorkflowStarter } from '../contact-sync/link-signals';
import { withHeartbeat } from '../heartbeat';
import { Semaphore, type ChangesResult, type FetchedMessage, type MailConnector, type MessageRef } from './connector';
import { MailProviderError, mailActivityFailure } from './errors';
import { GmailConnector } from './gmail';
import { GraphConnector } from './graph';
import { CompanyDomainLookup, importMessage, providerKeyOf, type ImportOutcome } from './import-message';
import { mailProviderSettings, type MailProviderSettings } from './oauth';
import { MailTokenService } from './tokens';

export interface MailActivityDeps {
  config: Config;
  secrets: SecretBox;
  publicBaseUrl: () => string;
  /** Hands customers created from mail to contact sync (I7 feeds C9). */
  starter: WorkflowStarter;
}

/** In-flight provider requests per mailbox from one process (Graph allows 4 per mailbox). */
const PROVIDER_CONCURRENCY: Record<MailProvider, number> = { gmail: 8, outlook: 4 };
/** Rate-limit waits taken inside a batch before the activity gives the wait to Temporal instead. */
const IN_ACTIVITY_RATE_LIMIT_WAITS = 5;
const MAX_IN_ACTIVITY_WAIT_MS = 10_000;

export const zeroImportCounts = (): ImportCounts => ({
  listed: 0, imported: 0, ticketsCreated: 0, customersCreated: 0, duplicates: 0, skippedAutomated: 0, skippedExcluded: 0, skippedFiltered: 0, gone: 0,
});

/** Builds one connector per inbox and process, sharing its token service and request cap. */
export class MailConnectors {
  readonly settings: MailProviderSettings;
  readonly tokens: MailTokenService;
  private readonly limiters = new Map<string, Semaphore>();

  constructor(private readonly config: Config, secrets: SecretBox) {
    this.settings = mailProviderSettings(config);
    this.tokens = new MailTokenService(secrets, this.settings);
  }

  forInbox(inboxId: string, provider: MailProvider): MailConnector {
    let limiter = this.limiters.get(inboxId);
    if (!limiter) this.limiters.set(inboxId, (limiter = new Semaphore(PROVIDER_CONCURRENCY[provider])));
    const token = (rejected?: string) => this.tokens.accessToken(inboxId, rejected);
    return provider === 'gmail'
      ? new GmailConnector(this.settings, token, limiter, this.config.GOOGLE_PUBSUB_TOPIC)
      : new GraphConnector(this.settings, token, limiter);
  }
}

async function runMailActivity<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await withHeartbeat(work);
  } catch (err) {
    throw mailActivityFailure(err);
  }
}

/** Short provider rate-limit waits are taken here, heartbeating, instead of failing the whole batch. */
async function withRateLimitWaits<T>(work: () => Promise<T>): Promise<T> {
  for (let waits = 0; ; waits += 1) {
    try {
      return await work();
    } catch (err) {
      const wait = err instanceof MailProviderError && err.type === 'MailRateLimited' ? (err.retryAfterMs ?? 1000) : undefined;
      if (wait === undefined || waits >= IN_ACTIVITY_RATE_LIMIT_WAITS || wait > MAX_IN_ACTIVITY_WAIT_MS) throw err;
      await sleep(wait);
    }
  }
}

/**
 * A customer that joined a company by domain matching counts as "added" for C9: its link
 * workflow decides (linked company? automatic contact creation on? complete?) like for a
 * customer added by hand. Sites without contact sync have nothing to hand over.
 */
async function handToContactSync(starter: WorkflowStarter, siteId: string, customerId: string): Promise<void> {
  if (!(await SiteModel.exists({ _id: siteId, teamwork: { $exists: true } }))) return;
  await signalLinkChanged(starter, 'customer', siteId, customerId, { side: 'desk', kind: 'created' });
}

async function loadInbox(inboxId: string) {
  const inbox = await InboxModel.findById(inboxId, { siteId: 1, provider: 1, filterMode: 1, excludedDomains: 1 }).lean();
  if (!inbox) throw new MailProviderError('MailProviderRejected', `inbox ${inboxId} no longer exists`);
  return inbox;
}

export function createMailboxActivities(deps: MailActivityDeps) {
  const connectors = new MailConnectors(deps.config, deps.secrets);
  const connectorOf = async (inboxId: string) => connectors.forInbox(inboxId, (await loadInbox(inboxId)).provider as MailProvider);

  return {
    /** A change cursor taken before the backfill lists anything (Gmail historyId, Graph deltaLink). */
    async startMailboxCursor(input: { inboxId: string; since: string }): Promise<{ cursor: string }> {
      return runMailActivity(async () => ({ cursor: await (await connectorOf(input.inboxId)).startCursor(new Date(input.since)) }));
    },

    /** One page of ids of inbox mail received since `since`, newest first. */
    async listMailboxBackfillPage(input: { inboxId: string; since: string; pageToken?: string }): Promise<{ refs: MessageRef[]; nextPageToken?: string }> {
      return runMailActivity(async () => withRateLimitWaits(async () => (await connectorOf(input.inboxId)).listReceivedSince(new Date(input.since), input.pageToken)));
    },

    /** Ids of mail that reached the inbox after `cursor`, or `stale` when the provider forgot it. */
    async listMailboxChanges(input: { inboxId: string; cursor: string }): Promise<ChangesResult> {
      return runMailActivity(async () => withRateLimitWaits(async () => (await connectorOf(input.inboxId)).changesSince(input.cursor)));
    },

    /**
     * Fetches, parses, filters, threads and stores a batch of messages (I4-I7, I12). Messages
     * already stored are not fetched again, so a retried batch only does what is left.
     */
    async importMailboxMessages(input: { inboxId: string; refs: MessageRef[] }): Promise<ImportCounts> {
      return runMailActivity(async () => {
        const inbox = await loadInbox(input.inboxId);
        const counts = zeroImportCounts();
        const stored = await TicketMessageModel.find({ providerKey: { $in: input.refs.map((r) => providerKeyOf(input.inboxId, r.id)) } }, { providerKey: 1 }).lean();
        const storedKeys = new Set(stored.map((m) => m.providerKey));
        const pending = input.refs.filter((r) => !storedKeys.has(providerKeyOf(input.inboxId, r.id)));
        counts.duplicates += input.refs.length - pending.length;
        const connector = connectors.forInbox(input.inboxId, inbox.provider as MailProvider);
        const rules = { inboxId: input.inboxId, siteId: String(inbox.siteId), filterMode: inbox.filterMode as 'client_only' | 'all', excludedDomains: inbox.excludedDomains ?? [] };
        const companies = new CompanyDomainLookup(rules.siteId);
        const tally = (outcome: ImportOutcome | 'gone') => {
          counts[outcome === 'duplicate' ? 'duplicates' : outcome] += 1;
        };
        const fetched: FetchedMessage[] = [];
        await forEachConcurrently(pending, PROVIDER_CONCURRENCY[inbox.provider as MailProvider], async (ref) => {
          const message = await withRateLimitWaits(() => connector.fetch(ref));
          if (message) fetched.push(message);
          else tally('gone');
        });
        // Oldest first, one at a time: an original is stored before its replies, so replies that
        // thread only by In-Reply-To/References find its ticket.
        fetched.sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
        for (const message of fetched) {
          const result = await importMessage(rules, message, await parseRawMessage(message.raw), companies);
          tally(result.outcome);
          if (result.ticketCreated) counts.ticketsCreated += 1;
          if (result.customerCreated) counts.customersCreated += 1;
          if (result.companyCustomerId) await handToContactSync(deps.starter, String(inbox.siteId), result.companyCustomerId);
        }
        return counts;
      });
    },

    /**
     * Creates or renews the inbox's push channel (Gmail watch, Graph subscription). The Graph
     * clientState is generated here and stored sealed; it never enters the workflow.
     */
    async renewMailboxPush(input: { inboxId: string; lifetimeMinutes: number }): Promise<{ expiresAt: string | null }> {
      return runMailActivity(async () => {
        const inbox = await InboxModel.findById(input.inboxId).select('+push.clientState').lean();
        if (!inbox) throw new MailProviderError('MailProviderRejected', `inbox ${input.inboxId} no longer exists`);
        const connector = connectors.forInbox(input.inboxId, inbox.provider as MailProvider);
        const clientState = inbox.push?.clientState?.data ? deps.secrets.open(inbox.push.clientState as never) : crypto.randomBytes(32).toString('base64url');
        const channel = await connector.renewPush({ subscriptionId: inbox.push?.subscriptionId ?? undefined, clientState }, `${deps.publicBaseUrl()}/webhooks/graph`, input.lifetimeMinutes);
        if (!channel) return { expiresAt: null };
        await InboxModel.updateOne(
          { _id: input.inboxId },
          {
            $set: {
              'push.expiresAt': channel.expiresAt,
              'push.renewedAt': new Date(),
              ...(channel.subscriptionId ? { 'push.subscriptionId': channel.subscriptionId, 'push.clientState': deps.secrets.seal(channel.clientState ?? clientState) } : {}),
            },
          },
        );
        return { expiresAt: channel.expiresAt.toISOString() };
      });
    },

    /** Mirrors the workflow's progress onto the inbox, so the API can show it after the run (O2). */
    async recordMailboxImport(input: {
      inboxId: string;
      workflowId: string;
      state: 'running' | 'following' | 'paused' | 'failed';
      phase: string;
      counts: ImportCounts;
      backfillDone: boolean;
      since: string;
      startedAt: string;
      failure?: { type: string; message: string };
    }): Promise<void> {
      const set: Record<string, unknown> = {
        workflowId: input.workflowId,
        'import.state': input.state,
        'import.phase': input.phase,
        'import.counts': input.counts,
        'import.backfillDone': input.backfillDone,
        'import.since': new Date(input.since),
        'import.startedAt': new Date(input.startedAt),
        'import.failure': input.failure ?? null,
      };
      await InboxModel.updateOne({ _id: input.inboxId }, { $set: set });
    },
  };
}

/** Runs `work` over `items` with at most `concurrency` at once; after a failure no new item starts. */
async function forEachConcurrently<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (next < items.length && !failed) {
      try {
        await work(items[next++]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

export type MailboxActivities = ReturnType<typeof createMailboxActivities>;
