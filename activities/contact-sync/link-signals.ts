import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { linkChangedSignal, type LinkChange, type LinkEntity } from '../../workflows/link';
import { teamworkImportId, workflowIds } from '../../workflows/ids';
import { entityAttribute, siteIdAttribute } from '../../workflows/search-attributes';
import { CompanyModel, CustomerModel, LinkTombstoneModel, siteKey, tombstoneKey } from '../../models';

export interface WorkflowStarter {
  temporal: Client;
  taskQueue: string;
  /** Link workflows end after this long without changes (tests shorten it). */
  linkIdleSeconds?: number;
}

/**
 * Hands a change to the record's link workflow, starting it when none runs (signal-with-start):
 * the one way the API, the webhook receiver and reconciliation all reach a link.
 */
export async function signalLinkChanged(starter: WorkflowStarter, entity: LinkEntity, siteId: string, deskId: string, change: LinkChange): Promise<void> {
  const workflowId = entity === 'company' ? workflowIds.companyLink(siteId, deskId) : workflowIds.customerLink(siteId, deskId);
  await starter.temporal.workflow.signalWithStart(entity === 'company' ? 'companyLink' : 'customerLink', {
    workflowId,
    taskQueue: starter.taskQueue,
    args: [{ siteId, deskId, idleSeconds: starter.linkIdleSeconds }],
    signal: linkChangedSignal,
    signalArgs: [change],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [
      { key: siteIdAttribute, value: siteId },
      { key: entityAttribute, value: `${entity}:${deskId}` },
    ],
  });
}

/** The Desk record a Teamwork.com id is linked to, if any. */
export async function findLinkedRecord(siteId: string, entity: LinkEntity, teamworkId: number): Promise<string | undefined> {
  const model = entity === 'company' ? CompanyModel : CustomerModel;
  const doc = await (model as typeof CompanyModel).findOne({ teamworkKey: siteKey(siteId, teamworkId) }, { _id: 1 }).lean();
  return doc ? String(doc._id) : undefined;
}

/**
 * The links of the sites that send webhooks, held in memory for the webhook receiver. FerretDB
 * answers a `teamworkKey` lookup by scanning the whole collection (tens of milliseconds of
 * database CPU per delivery with a few thousand contacts; bench/webhook-ingest.ts), so a site's
 * links are read in one pass and reused. A link never moves to another record (a broken one is
 * tombstoned for good, C11), so a remembered link is at worst one that broke since, and that only
 * wakes a link workflow which finds its record unlinked and writes nothing to Teamwork.com. An id
 * not held here is looked up in the database every time: it may have been linked a moment ago.
 */
export class LinkedRecordCache {
  private readonly sites = new Map<string, { links: Promise<Map<string, string>>; loadedAt: number; size: number }>();

  constructor(private readonly options: { refreshAfterMs: number; maxLinks: number }) {}

  async find(siteId: string, entity: LinkEntity, teamworkId: number): Promise<string | undefined> {
    const links = await this.linksOf(siteId);
    const key = `${entity}:${teamworkId}`;
    const known = links.get(key);
    if (known) return known;
    const deskId = await findLinkedRecord(siteId, entity, teamworkId);
    if (deskId) links.set(key, deskId);
    return deskId;
  }

  private linksOf(siteId: string): Promise<Map<string, string>> {
    const held = this.sites.get(siteId);
    if (held && Date.now() - held.loadedAt < this.options.refreshAfterMs) return held.links;
    const loading = loadSiteLinks(siteId);
    const entry = { links: loading, loadedAt: Date.now(), size: 0 };
    this.sites.delete(siteId);
    this.sites.set(siteId, entry);
    loading.then(
      (links) => {
        entry.size = links.size;
        this.evictOldest();
      },
      () => {
        if (this.sites.get(siteId) === entry) this.sites.delete(siteId);
      },
    );
    // While a site's links are re-read, the ones held keep answering.
    return held ? held.links : loading;
  }

  private evictOldest(): void {
    let total = [...this.sites.values()].reduce((sum, site) => sum + site.size, 0);
    // Map order is insertion order: the first site is the one loaded longest ago.
    for (const [siteId, site] of this.sites) {
      if (total <= this.options.maxLinks || this.sites.size === 1) break;
      this.sites.delete(siteId);
      total -= site.size;
    }
  }
}

async function loadSiteLinks(siteId: string): Promise<Map<string, string>> {
  const linked = { siteId, teamworkKey: { $exists: true } };
  const [companies, customers] = await Promise.all([
    CompanyModel.find(linked, { teamworkId: 1 }).lean(),
    CustomerModel.find(linked, { teamworkId: 1 }).lean(),
  ]);
  const links = new Map<string, string>();
  for (const c of companies) if (c.teamworkId != null) links.set(`company:${c.teamworkId}`, String(c._id));
  for (const c of customers) if (c.teamworkId != null) links.set(`customer:${c.teamworkId}`, String(c._id));
  return links;
}

/**
 * A change reported by Teamwork.com (webhook or reconciliation): linked records go to their link
 * workflow; unknown ones are imported once (C3); ids whose link was broken are ignored (C11).
 */
export async function routeTeamworkChange(
  starter: WorkflowStarter,
  siteId: string,
  entity: LinkEntity,
  teamworkId: number,
  kind: LinkChange['kind'],
  linkedRecords: Pick<LinkedRecordCache, 'find'> = { find: findLinkedRecord },
): Promise<'link' | 'import' | 'ignored'> {
  const deskId = await linkedRecords.find(siteId, entity, teamworkId);
  if (deskId) {
    await signalLinkChanged(starter, entity, siteId, deskId, { side: 'teamwork', kind });
    return 'link';
  }
  if (kind === 'deleted') return 'ignored';
  if (await LinkTombstoneModel.exists({ key: tombstoneKey(siteId, entity, teamworkId) })) return 'ignored';
  await starter.temporal.workflow.start('teamworkImport', {
    workflowId: teamworkImportId(siteId, entity, teamworkId),
    taskQueue: starter.taskQueue,
    args: [{ siteId, entity, teamworkId }],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: [
      { key: siteIdAttribute, value: siteId },
      { key: entityAttribute, value: `teamwork-${entity}:${teamworkId}` },
    ],
  });
  return 'import';
}
