import { SiteModel, type SyncCounts } from '../../models';
import type { SecretBox } from '../../lib/secrets';
import type { TeamworkClientFactory } from '../teamwork/client';
import { countSyncRecords } from '../../lib/metrics';
import { runActivity } from '../failures';
import { companyDirectoryForRun, importTeamworkCompanies, importTeamworkPeople, type ImportCounts } from './import-records';
import { teamworkClientForSite } from './site-access';

export interface InitialSyncDeps {
  secrets: SecretBox;
  teamwork: TeamworkClientFactory;
  /** Where Teamwork.com should deliver webhooks, e.g. https://desk.example.com */
  publicBaseUrl: () => string;
}

export interface PageResult {
  counts: ImportCounts;
  hasMore: boolean;
  /** Total records the list reported (a lower bound when the API skips counts). */
  total?: number;
}

export const teamworkWebhookEvents = [
  'COMPANY.CREATED', 'COMPANY.UPDATED', 'COMPANY.DELETED',
  'USER.CREATED', 'USER.UPDATED', 'USER.DELETED',
  'TASK.CREATED', 'TASK.UPDATED', 'TASK.COMPLETED', 'TASK.DELETED',
] as const;

export function createInitialSyncActivities(deps: InitialSyncDeps) {
  return {
    /**
     * Registers deskbridge's webhooks on the linked Teamwork.com site. Idempotent: events that
     * already deliver to our URL are left alone, so a retry or a re-run adds nothing.
     */
    async registerTeamworkWebhooks(input: { siteId: string }): Promise<{ registered: number }> {
      return runActivity(async () => {
        const { client } = await teamworkClientForSite(input.siteId, deps.secrets, deps.teamwork);
        const site = await SiteModel.findById(input.siteId).select('+teamwork.webhookToken').lean();
        const token = deps.secrets.open(site!.teamwork!.webhookToken as never);
        const url = `${deps.publicBaseUrl()}/webhooks/teamwork?site=${input.siteId}`;
        const existing = await client.listWebhooks();
        const ids = existing.filter((w) => w.url === url).map((w) => w.id);
        const missing = teamworkWebhookEvents.filter((event) => !existing.some((w) => w.url === url && w.event.toUpperCase() === event));
        for (const event of missing) ids.push(await client.createWebhook(event, url, token));
        await SiteModel.updateOne({ _id: input.siteId }, { $set: { 'teamwork.webhookIds': ids } });
        return { registered: missing.length };
      });
    },

    /** `runKey` names one run of the sync; its pages share what they learn of Desk's companies. */
    async importCompanyPage(input: { siteId: string; page: number; runKey?: string }): Promise<PageResult> {
      return runActivity(async () => {
        const { client } = await teamworkClientForSite(input.siteId, deps.secrets, deps.teamwork);
        const page = await client.listCompanies({ page: input.page });
        const owner = page.items.find((c) => c.isOwner);
        if (owner) await SiteModel.updateOne({ _id: input.siteId }, { $set: { 'teamwork.ownerCompanyId': owner.id } });
        const external = page.items.filter((c) => !c.isOwner && c.status !== 'deleted');
        const directory = input.runKey ? await companyDirectoryForRun(input.siteId, input.runKey) : undefined;
        const counts = await importTeamworkCompanies(input.siteId, external, directory);
        counts.seen = page.items.length;
        counts.skipped += page.items.length - external.length;
        countSyncRecords('company', counts);
        return { counts, hasMore: page.hasMore, total: page.count };
      });
    },

    async importPeoplePage(input: { siteId: string; page: number; runKey?: string }): Promise<PageResult> {
      return runActivity(async () => {
        const { client, ownerCompanyId } = await teamworkClientForSite(input.siteId, deps.secrets, deps.teamwork);
        const page = await client.listPeople({ page: input.page });
        const directory = input.runKey ? await companyDirectoryForRun(input.siteId, input.runKey) : undefined;
        const counts = await importTeamworkPeople(input.siteId, page.items, { ownerCompanyId, directory });
        countSyncRecords('customer', counts);
        return { counts, hasMore: page.hasMore, total: page.count };
      });
    },

    /** Mirrors the workflow's progress onto the site so the API can show it without Temporal. */
    async recordInitialSyncProgress(input: {
      siteId: string;
      workflowId: string;
      state: 'running' | 'completed' | 'failed';
      phase: string;
      counts: SyncCounts;
      startedAt?: string;
      failure?: { type: string; message: string };
    }): Promise<void> {
      const set: Record<string, unknown> = {
        'initialSync.workflowId': input.workflowId,
        'initialSync.state': input.state,
        'initialSync.phase': input.phase,
        'initialSync.counts': input.counts,
        'initialSync.failure': input.failure ?? null,
      };
      if (input.startedAt) set['initialSync.startedAt'] = new Date(input.startedAt);
      if (input.state !== 'running') set['initialSync.finishedAt'] = new Date();
      await SiteModel.updateOne({ _id: input.siteId }, { $set: set });
    },
  };
}

export type InitialSyncActivities = ReturnType<typeof createInitialSyncActivities>;
