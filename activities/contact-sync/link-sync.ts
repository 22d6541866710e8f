import { ApplicationFailure } from '@temporalio/common';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { Types } from 'mongoose';
import {
  CompanyModel,
  CustomerModel,
  LinkTombstoneModel,
  SiteModel,
  SyncHistoryModel,
  emailKeyOf,
  nameKeyOf,
  siteKey,
  tombstoneKey,
  type ConflictPolicy,
} from '../../models';
import { mergeRecord, missingCustomerFields, type FieldValues, type MergeResult } from '../../domain/sync';
import { countLinkSync } from '../../lib/metrics';
import { isDuplicateKey, runActivity } from '../failures';
import type { TeamworkClient } from '../teamwork/client';
import { TeamworkError, TeamworkFailure } from '../teamwork/errors';
import type { TeamworkCompany, TeamworkPerson } from '../teamwork/wire';
import { reconcileScheduleId, workflowIds } from '../../workflows/ids';
import type { ReconcileInput } from '../../workflows/reconcile';
import { entityAttribute, siteIdAttribute, syncPausedAttribute, syncPausedNote } from '../../workflows/search-attributes';
import type { InitialSyncDeps } from './initial-sync';
import { importTeamworkCompanies, importTeamworkPeople } from './import-records';
import { routeTeamworkChange, signalLinkChanged, type WorkflowStarter } from './link-signals';
import { teamworkClientForSite } from './site-access';
import {
  companyFieldsFromValues,
  companySyncFields,
  customerSyncFields,
  deskCompanyValues,
  deskCustomerValues,
  personFieldsFromValues,
  teamworkCompanyValues,
  teamworkPersonValues,
} from './field-maps';

export interface LinkDeps extends InitialSyncDeps {
  starter: WorkflowStarter;
  reconcileIntervalSeconds: number;
}

export interface LinkSyncOutcome {
  outcome: 'synced' | 'unchanged' | 'created' | 'gone' | 'unlinked' | 'paused' | 'not_synced' | 'rejected';
  conflicts?: number;
  wroteTeamwork?: boolean;
  wroteDesk?: boolean;
}

type Entity = 'company' | 'customer';

const deskChangedDuringSync = () =>
  ApplicationFailure.create({ type: 'DeskChangedDuringSync', message: 'the Desk record changed while it was being synced; merging again', nonRetryable: false });

const epochMs = (value: unknown): number => (value ? new Date(value as string).getTime() || 0 : 0);

export function createLinkActivities(deps: LinkDeps) {
  const clientFor = async (siteId: string): Promise<TeamworkClient> => (await teamworkClientForSite(siteId, deps.secrets, deps.teamwork)).client;

  async function recordHistory(entry: { siteId: string; entity: Entity; deskId: string; teamworkId?: number; action: string; merge?: MergeResult; policy?: ConflictPolicy; reason?: string }) {
    await SyncHistoryModel.create({
      siteId: entry.siteId,
      entity: entry.entity,
      deskId: entry.deskId,
      teamworkId: entry.teamworkId,
      action: entry.action,
      reason: entry.reason,
      changes: Object.entries(entry.merge?.changedBy ?? {}).map(([field, from]) => ({ field, from, value: entry.merge!.merged[field] ?? null })),
      conflicts: (entry.merge?.conflicts ?? []).map((c) => ({ ...c, teamwork: c.teamwork ?? null, desk: c.desk ?? null, policy: entry.policy })),
    });
  }

  /** C15: a permanent rejection is shown on the record and in its history, not retried. */
  async function recordRejection(entity: Entity, siteId: string, deskId: string, teamworkId: number | undefined, err: TeamworkError): Promise<LinkSyncOutcome> {
    const model = (entity === 'company' ? CompanyModel : CustomerModel) as typeof CompanyModel;
    await model.updateOne({ _id: deskId }, { $set: { syncStatus: { state: 'error', reason: err.message, at: new Date() } } });
    await recordHistory({ siteId, entity, deskId, teamworkId, action: 'rejected', reason: err.message });
    return { outcome: 'rejected' };
  }

  /** C11: the Teamwork.com record is gone; the Desk record stays, shown unlinked, for good. */
  async function breakLink(entity: Entity, siteId: string, deskId: string, teamworkId: number): Promise<LinkSyncOutcome> {
    const model = (entity === 'company' ? CompanyModel : CustomerModel) as typeof CompanyModel;
    await LinkTombstoneModel.updateOne(
      { key: tombstoneKey(siteId, entity, teamworkId) },
      { $setOnInsert: { siteId: new Types.ObjectId(siteId), entity, teamworkId, brokenBy: 'teamwork', at: new Date() } },
      { upsert: true },
    );
    await model.updateOne(
      { _id: deskId },
      { $set: { linked: false, syncStatus: { state: 'unlinked', reason: `deleted in Teamwork.com`, at: new Date() } }, $unset: { teamworkKey: 1, syncBase: 1 }, $inc: { revision: 1 } },
    );
    await recordHistory({ siteId, entity, deskId, teamworkId, action: 'unlinked', reason: 'deleted in Teamwork.com' });
    return { outcome: 'unlinked' };
  }

  async function markStatus(entity: Entity, deskId: string, status: { state: string; reason?: string; missingFields?: string[] }) {
    const model = (entity === 'company' ? CompanyModel : CustomerModel) as typeof CompanyModel;
    await model.updateOne({ _id: deskId }, { $set: { syncStatus: { ...status, at: new Date() } } });
  }

  async function loadSite(siteId: string) {
    return SiteModel.findById(siteId, { settings: 1, teamwork: 1 }).lean();
  }

  async function syncCompanyLink(input: { siteId: string; deskId: string }): Promise<LinkSyncOutcome> {
    const { siteId, deskId } = input;
    const [site, company] = await Promise.all([loadSite(siteId), CompanyModel.findOne({ _id: deskId, siteId }).lean()]);
    if (!site?.teamwork || !company) return { outcome: 'gone' };
    if (site.settings?.paused) return { outcome: 'paused' };
    const client = await clientFor(siteId);

    if (!company.linked) {
      // C4: only companies created with "Add as a client" are created in Teamwork.com.
      if (!company.addAsClient || company.teamworkId !== undefined) return { outcome: 'not_synced' };
      let created: TeamworkCompany;
      try {
        created = await client.createCompany(companyFieldsFromValues(deskCompanyValues(company)));
      } catch (err) {
        // A retry after a crash finds the company it created before: Teamwork.com names are unique.
        const existing = err instanceof TeamworkError && err.status === 409 ? await findCompanyByName(client, company.name) : undefined;
        if (existing) created = existing;
        else if (err instanceof TeamworkError && err.permanent) return recordRejection('company', siteId, deskId, undefined, err);
        else throw err;
      }
      const linked = await linkDeskRecord('company', siteId, deskId, created.id, teamworkCompanyValues(created));
      if (linked) await recordHistory({ siteId, entity: 'company', deskId, teamworkId: created.id, action: 'created_in_teamwork' });
      return { outcome: 'created', wroteTeamwork: true };
    }

    let remote: TeamworkCompany | undefined;
    try {
      remote = await client.getCompany(company.teamworkId!);
    } catch (err) {
      if (!(err instanceof TeamworkError && err.type === TeamworkFailure.notFound)) throw err;
    }
    if (!remote || remote.status === 'deleted') return breakLink('company', siteId, deskId, company.teamworkId!);

    const merge = mergeRecord(
      companySyncFields,
      (company.syncBase as FieldValues) ?? {},
      { values: teamworkCompanyValues(remote), modifiedAt: () => epochMs(remote!.updatedAt) },
      { values: deskCompanyValues(company), modifiedAt: (f) => epochMs((company.fieldEditedAt as Record<string, Date>)?.[f] ?? company.updatedAt) },
      site.settings!.conflictPolicy as ConflictPolicy,
    );
    const deskSet: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(merge.writeDesk)) {
      deskSet[field] = value ?? null;
      if (field === 'name' && value) deskSet.nameKey = siteKey(siteId, nameKeyOf(value as string));
    }
    return applyMerge('company', siteId, company, merge, deskSet, site.settings!.conflictPolicy as ConflictPolicy, () =>
      client.updateCompany(company.teamworkId!, companyFieldsFromValues(merge.writeTeamwork)).then(() => undefined),
    );
  }

  async function syncCustomerLink(input: { siteId: string; deskId: string }): Promise<LinkSyncOutcome> {
    const { siteId, deskId } = input;
    const [site, customer] = await Promise.all([loadSite(siteId), CustomerModel.findOne({ _id: deskId, siteId }).lean()]);
    if (!site?.teamwork || !customer) return { outcome: 'gone' };
    if (site.settings?.paused) return { outcome: 'paused' };
    const company = customer.companyId ? await CompanyModel.findOne({ _id: customer.companyId, siteId }).lean() : null;
    const missing = missingCustomerFields({ ...customer, companyId: company?._id });
    // C7: incomplete customers stay in Desk and say what they lack; C6: no company, no sync.
    if (missing.length > 0) {
      await markStatus('customer', deskId, { state: 'incomplete', reason: `missing ${missing.join(', ')}`, missingFields: missing });
      return { outcome: 'not_synced' };
    }
    if (!company!.linked) {
      await markStatus('customer', deskId, { state: 'not_synced', reason: 'its company is not linked to Teamwork.com' });
      return { outcome: 'not_synced' };
    }
    const client = await clientFor(siteId);

    if (!customer.linked) {
      // C9: new customers of linked companies reach Teamwork.com only with the setting on.
      if (!site.settings?.autoCreateContacts) {
        await markStatus('customer', deskId, { state: 'not_synced', reason: 'automatically creating contacts in Teamwork.com is off' });
        return { outcome: 'not_synced' };
      }
      if (customer.teamworkId !== undefined) return { outcome: 'not_synced' };
      const values = deskCustomerValues(customer, company!.teamworkId ?? undefined);
      let teamworkId: number;
      try {
        teamworkId = await client.createContact(personFieldsFromValues(values));
      } catch (err) {
        // Teamwork.com allows an address once per site: after a crash, the contact we made is found by it.
        const existing = err instanceof TeamworkError && err.type === TeamworkFailure.rejected ? await findPersonByEmail(client, customer.email!) : undefined;
        if (existing) teamworkId = existing.id;
        else if (err instanceof TeamworkError && err.permanent) return recordRejection('customer', siteId, deskId, undefined, err);
        else throw err;
      }
      const person = await client.getPerson(teamworkId);
      const linked = await linkDeskRecord('customer', siteId, deskId, teamworkId, teamworkPersonValues(person));
      if (linked) await recordHistory({ siteId, entity: 'customer', deskId, teamworkId, action: 'created_in_teamwork' });
      return { outcome: 'created', wroteTeamwork: true };
    }

    let remote: TeamworkPerson | undefined;
    try {
      remote = await client.getPerson(customer.teamworkId!);
    } catch (err) {
      if (!(err instanceof TeamworkError && err.type === TeamworkFailure.notFound)) throw err;
    }
    if (!remote || remote.deleted) return breakLink('customer', siteId, deskId, customer.teamworkId!);

    const merge = mergeRecord(
      customerSyncFields,
      (customer.syncBase as FieldValues) ?? {},
      { values: teamworkPersonValues(remote), modifiedAt: () => epochMs(remote!.updatedAt) },
      { values: deskCustomerValues(customer, company!.teamworkId ?? undefined), modifiedAt: (f) => epochMs((customer.fieldEditedAt as Record<string, Date>)?.[f] ?? customer.updatedAt) },
      site.settings!.conflictPolicy as ConflictPolicy,
    );
    const deskSet = await deskCustomerWrite(siteId, merge.writeDesk);
    return applyMerge('customer', siteId, customer, merge, deskSet, site.settings!.conflictPolicy as ConflictPolicy, () =>
      client.updatePerson(customer.teamworkId!, personFieldsFromValues(merge.writeTeamwork)),
    );
  }

  /**
   * Writes a merge: Teamwork.com first (absolute values, so a retry repeats it harmlessly), then
   * the Desk record and the new base in one conditional update. Nothing is written when both
   * sides already agree, which is what makes a webhook echo of our own write a no-op (C14).
   */
  async function applyMerge(
    entity: Entity,
    siteId: string,
    record: { _id: Types.ObjectId; teamworkId?: number | null; revision?: number | null; syncBase?: unknown; syncStatus?: { state?: string | null } | null },
    merge: MergeResult,
    deskSet: Record<string, unknown>,
    policy: ConflictPolicy,
    writeTeamwork: () => Promise<void>,
  ): Promise<LinkSyncOutcome> {
    const wroteTeamwork = Object.keys(merge.writeTeamwork).length > 0;
    const wroteDesk = Object.keys(deskSet).length > 0;
    const baseChanged = JSON.stringify(merge.merged) !== JSON.stringify(record.syncBase ?? {});
    if (!wroteTeamwork && !wroteDesk && !baseChanged && record.syncStatus?.state === 'synced') return { outcome: 'unchanged' };
    const deskId = String(record._id);
    if (wroteTeamwork) {
      try {
        await writeTeamwork();
      } catch (err) {
        if (err instanceof TeamworkError && err.permanent) return recordRejection(entity, siteId, deskId, record.teamworkId ?? undefined, err);
        throw err;
      }
    }
    const model = (entity === 'company' ? CompanyModel : CustomerModel) as typeof CompanyModel;
    try {
      const result = await model.updateOne(
        // Records written before revisions existed have none; absent counts as revision 0.
        { _id: record._id, revision: record.revision ?? { $exists: false } },
        { $set: { ...deskSet, syncBase: merge.merged, syncStatus: { state: 'synced', at: new Date() } }, $inc: { revision: 1 } },
      );
      if (result.matchedCount === 0) {
        // Teamwork.com already holds what was just written there. Unless that becomes the base,
        // the retry takes our own write for a Teamwork.com edit and, as a "conflict" with the
        // newer Desk edit, may copy the older Desk value back over it (C13, C14).
        if (wroteTeamwork) await model.updateOne({ _id: record._id, linked: true }, { $set: { syncBase: { ...((record.syncBase as FieldValues | undefined) ?? {}), ...merge.writeTeamwork } } });
        throw deskChangedDuringSync();
      }
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      return recordRejection(entity, siteId, deskId, record.teamworkId ?? undefined, new TeamworkError(TeamworkFailure.rejected, 'another Desk record already uses this name or email'));
    }
    if (wroteTeamwork || wroteDesk || merge.conflicts.length > 0) {
      await recordHistory({ siteId, entity, deskId, teamworkId: record.teamworkId ?? undefined, action: 'synced', merge, policy });
    }
    return { outcome: 'synced', wroteTeamwork, wroteDesk, conflicts: merge.conflicts.length };
  }

  /** Maps merged customer values onto the Desk document; a Teamwork.com company move follows only to a linked company. */
  async function deskCustomerWrite(siteId: string, values: FieldValues): Promise<Record<string, unknown>> {
    const set: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(values)) {
      if (field === 'twitter' || field === 'linkedin' || field === 'facebook') set[`socialNetworks.${field}`] = value ?? null;
      else if (field === 'company') {
        const target = value ? await CompanyModel.findOne({ teamworkKey: siteKey(siteId, Number(value)) }, { _id: 1 }).lean() : null;
        if (target) set.companyId = target._id;
      } else if (field === 'email') {
        set.email = value ?? null;
        set.emailKey = value ? siteKey(siteId, emailKeyOf(value as string)) : null;
      } else set[field] = value ?? (field === 'alternativeEmails' ? [] : null);
    }
    return set;
  }

  /** Links a Desk record to the Teamwork.com record just created for it; a concurrent import may have done it already. */
  async function linkDeskRecord(entity: Entity, siteId: string, deskId: string, teamworkId: number, base: FieldValues): Promise<boolean> {
    const model = (entity === 'company' ? CompanyModel : CustomerModel) as typeof CompanyModel;
    const result = await model.updateOne(
      { _id: deskId, linked: false },
      { $set: { teamworkId, teamworkKey: siteKey(siteId, teamworkId), linked: true, syncBase: base, syncStatus: { state: 'synced', at: new Date() } }, $inc: { revision: 1 } },
    );
    return result.modifiedCount === 1;
  }

  return {
    syncCompanyLink: (input: { siteId: string; deskId: string }) => runActivity(() => countLinkSync('company', syncCompanyLink(input))),
    syncCustomerLink: (input: { siteId: string; deskId: string }) => runActivity(() => countLinkSync('customer', syncCustomerLink(input))),

    /** C3: a Teamwork.com record Desk does not hold; matched or copied exactly as the initial sync does. */
    async importTeamworkRecord(input: { siteId: string; entity: Entity; teamworkId: number }): Promise<string> {
      return runActivity(async () => {
        const { siteId, entity, teamworkId } = input;
        const site = await loadSite(siteId);
        if (!site?.teamwork || site.settings?.paused) return 'skipped';
        if (await LinkTombstoneModel.exists({ key: tombstoneKey(siteId, entity, teamworkId) })) return 'ignored';
        const client = await clientFor(siteId);
        try {
          if (entity === 'company') {
            const company = await client.getCompany(teamworkId);
            if (company.isOwner || company.status === 'deleted') return 'ignored';
            const counts = await importTeamworkCompanies(siteId, [company]);
            return counts.created ? 'created' : counts.matched ? 'matched' : 'unchanged';
          }
          const person = await client.getPerson(teamworkId);
          const counts = await importTeamworkPeople(siteId, [person]);
          return counts.created ? 'created' : counts.matched ? 'matched' : counts.skipped ? 'skipped' : 'unchanged';
        } catch (err) {
          if (err instanceof TeamworkError && err.type === TeamworkFailure.notFound) return 'ignored';
          throw err;
        }
      });
    },

    /** Pages Teamwork.com changes since the cursor into the link and import workflows (C3). */
    async reconcileTeamworkChanges(input: ReconcileInput): Promise<number> {
      return runActivity(async () => {
        const site = await SiteModel.findById(input.siteId, { reconcileCursor: 1, initialSync: 1, settings: 1, teamwork: 1 }).lean();
        if (!site?.teamwork || site.settings?.paused) return 0;
        const client = await clientFor(input.siteId);
        const cursor = site.reconcileCursor ?? (site.initialSync?.startedAt ? new Date(site.initialSync.startedAt).toISOString() : undefined);
        // C16: a pass that ran while the pause began may have moved the cursor past changes it could not hand over.
        const since = input.afterPause ? earliest(cursor, new Date(Date.parse(input.afterPause.pausedAt) - teamworkClockSkewMs).toISOString()) : cursor;
        let newest = since ?? '';
        let changes = 0;
        const handle = async (entity: Entity, id: number, updatedAt: string | undefined, deleted: boolean) => {
          changes += 1;
          if (updatedAt && updatedAt > newest) newest = updatedAt;
          await routeTeamworkChange(deps.starter, input.siteId, entity, id, deleted ? 'deleted' : 'updated');
        };
        for (let page = 1; ; page++) {
          const result = await client.listCompanies({ page, updatedAfter: since });
          for (const c of result.items) if (!c.isOwner) await handle('company', c.id, c.updatedAt, c.status === 'deleted');
          if (!result.hasMore) break;
        }
        for (let page = 1; ; page++) {
          const result = await client.listPeople({ page, updatedAfter: since });
          for (const p of result.items) await handle('customer', p.id, p.updatedAt, Boolean(p.deleted));
          if (!result.hasMore) break;
        }
        if (newest && newest !== since) await SiteModel.updateOne({ _id: input.siteId }, { $set: { reconcileCursor: newest } });
        return changes;
      });
    },

    /**
     * Desk edits whose hand-over to their link workflow failed stay `pending`; hand them over
     * again. Recent ones are normally still on their way, except after a pause (C16), when every
     * one of them waits.
     */
    async reconcileDeskChanges(input: ReconcileInput): Promise<number> {
      return runActivity(async () => {
        const site = await loadSite(input.siteId);
        if (!site?.teamwork || site.settings?.paused) return 0;
        const age = input.afterPause ? {} : { updatedAt: { $lt: new Date(Date.now() - 30_000) } };
        let handed = 0;
        for (const entity of ['company', 'customer'] as const) {
          const model = (entity === 'company' ? CompanyModel : CustomerModel) as typeof CompanyModel;
          const pending = await model.find({ siteId: input.siteId, 'syncStatus.state': 'pending', ...age }, { _id: 1 }).lean();
          for (const doc of pending) await signalLinkChanged(deps.starter, entity, input.siteId, String(doc._id), { side: 'desk', kind: 'updated' });
          handed += pending.length;
        }
        return handed;
      });
    },

    /** The per-site Temporal Schedule that runs reconciliation; idempotent. A paused site's schedule starts paused (C16). */
    async ensureReconcileSchedule(input: { siteId: string }): Promise<void> {
      const paused = Boolean((await loadSite(input.siteId))?.settings?.paused);
      try {
        await deps.starter.temporal.schedule.create({
          scheduleId: reconcileScheduleId(input.siteId),
          spec: { intervals: [{ every: `${deps.reconcileIntervalSeconds}s` }] },
          action: {
            type: 'startWorkflow',
            workflowType: 'reconcileSite',
            workflowId: workflowIds.reconcile(input.siteId),
            taskQueue: deps.starter.taskQueue,
            args: [{ siteId: input.siteId }],
            typedSearchAttributes: [{ key: siteIdAttribute, value: input.siteId }, { key: entityAttribute, value: 'site' }],
          },
          policies: { overlap: ScheduleOverlapPolicy.SKIP },
          memo: { siteId: input.siteId, kind: 'reconcile' },
          typedSearchAttributes: [{ key: siteIdAttribute, value: input.siteId }, { key: syncPausedAttribute, value: paused }],
          state: paused ? { paused: true, note: syncPausedNote } : undefined,
        });
      } catch (err) {
        if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      }
    },
  };
}

/** Teamwork.com stamps changes with its own clock: reading a minute of changes again is harmless, missing one is not. */
const teamworkClockSkewMs = 60_000;

const earliest = (cursor: string | undefined, other: string): string => (cursor !== undefined && Date.parse(cursor) < Date.parse(other) ? cursor : other);

async function findCompanyByName(client: TeamworkClient, name: string): Promise<TeamworkCompany | undefined> {
  const wanted = nameKeyOf(name);
  for (let page = 1; ; page++) {
    const result = await client.listCompanies({ page, searchTerm: name });
    const found = result.items.find((c) => nameKeyOf(c.name) === wanted);
    if (found || !result.hasMore) return found;
  }
}

async function findPersonByEmail(client: TeamworkClient, email: string): Promise<TeamworkPerson | undefined> {
  const wanted = emailKeyOf(email);
  const result = await client.listPeople({ page: 1, searchTerm: email });
  return result.items.find((p) => p.email && emailKeyOf(p.email) === wanted && !p.deleted);
}

export type LinkActivities = ReturnType<typeof createLinkActivities>;
