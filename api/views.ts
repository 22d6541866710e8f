import type { Company, Customer } from '../models';

type WithId<T> = T & { _id: unknown; createdAt?: Date; updatedAt?: Date };

/** API shapes are allow-lists: internal keys, sync bases and secrets never leave the server. */
export function companyView(c: WithId<Company>) {
  return {
    id: String(c._id),
    name: c.name,
    website: c.website ?? null,
    email: c.email ?? null,
    domains: c.domains ?? [],
    origin: c.origin,
    linked: Boolean(c.linked),
    teamworkId: c.linked ? (c.teamworkId ?? null) : null,
    syncStatus: statusView(c.syncStatus),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

export function customerView(c: WithId<Customer>) {
  return {
    id: String(c._id),
    firstName: c.firstName ?? null,
    lastName: c.lastName ?? null,
    email: c.email ?? null,
    alternativeEmails: c.alternativeEmails ?? [],
    avatarUrl: c.avatarUrl ?? null,
    socialNetworks: { twitter: c.socialNetworks?.twitter ?? null, linkedin: c.socialNetworks?.linkedin ?? null, facebook: c.socialNetworks?.facebook ?? null },
    companyId: c.companyId ? String(c.companyId) : null,
    origin: c.origin,
    linked: Boolean(c.linked),
    teamworkId: c.linked ? (c.teamworkId ?? null) : null,
    syncStatus: statusView(c.syncStatus),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

function statusView(status: Company['syncStatus'] | undefined) {
  return {
    state: status?.state ?? 'not_synced',
    reason: status?.reason ?? null,
    missingFields: status?.missingFields ?? [],
    at: status?.at ?? null,
  };
}

interface HistoryEntry {
  at: Date;
  action: string;
  teamworkId?: number | null;
  changes?: { field?: string | null; from?: string | null; value?: unknown }[] | null;
  conflicts?: { field?: string | null; teamwork?: unknown; desk?: unknown; winner?: string | null; rule?: string | null; policy?: string | null }[] | null;
  reason?: string | null;
}

export function syncHistoryView(h: HistoryEntry) {
  return {
    at: h.at,
    action: h.action,
    teamworkId: h.teamworkId ?? null,
    changes: (h.changes ?? []).map((c) => ({ field: c.field, from: c.from, value: c.value ?? null })),
    conflicts: (h.conflicts ?? []).map((c) => ({ field: c.field, teamwork: c.teamwork ?? null, desk: c.desk ?? null, winner: c.winner, rule: c.rule, policy: c.policy ?? null })),
    reason: h.reason ?? null,
  };
}

export function userView(u: { _id: unknown; email: string; firstName?: string | null; lastName?: string | null; role: string; createdAt?: Date }) {
  return { id: String(u._id), email: u.email, firstName: u.firstName ?? null, lastName: u.lastName ?? null, role: u.role, createdAt: u.createdAt };
}
