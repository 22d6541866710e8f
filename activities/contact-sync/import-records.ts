import { Types } from 'mongoose';
import {
  CompanyModel,
  CustomerModel,
  domainOfEmail,
  domainOfWebsite,
  emailKeyOf,
  nameKeyOf,
  siteKey,
} from '../../models';
import { duplicateIndexes } from '../failures';
import { companyFieldsOf, personFieldsOf, type TeamworkCompany, type TeamworkPerson } from '../teamwork/wire';
import { teamworkCompanyValues, teamworkPersonValues } from './field-maps';

export interface ImportCounts {
  seen: number;
  created: number;
  matched: number;
  alreadyLinked: number;
  skipped: number;
}

const emptyCounts = (): ImportCounts => ({ seen: 0, created: 0, matched: 0, alreadyLinked: 0, skipped: 0 });

/** Shared mail hosts say nothing about which company a person belongs to. */
const publicMailDomains = new Set(['gmail.com', 'googlemail.com', 'outlook.com', 'hotmail.com', 'live.com', 'yahoo.com', 'icloud.com', 'me.com', 'aol.com', 'proton.me', 'protonmail.com', 'gmx.com']);

export function companyDomains(company: TeamworkCompany): string[] {
  const domains = [domainOfWebsite(company.website), ...[company.emailOne, company.emailTwo, company.emailThree].map((e) => (e ? domainOfEmail(e) : undefined))];
  return [...new Set(domains.filter((d): d is string => Boolean(d) && !publicMailDomains.has(d!)))];
}

/**
 * What Desk holds of one site's companies, as far as matching and linking need it. FerretDB serves
 * only `_id` filters from an index: any other lookup reads the whole collection, so one lookup
 * per page made each page of a large sync slower than the last. The initial sync therefore loads
 * it once per run and worker process and keeps it current with its own writes. Records another
 * process wrote meanwhile are missing from it, never wrong: the unique indexes refuse their
 * duplicates, and those few are looked up.
 */
export class CompanyDirectory {
  readonly linked = new Map<string, Types.ObjectId>();
  unlinked: { _id: Types.ObjectId; nameKey?: string | null; domains?: string[] | null }[] = [];

  static async load(siteId: string, narrowTo?: { teamworkKeys: string[]; nameKeys?: string[]; domains?: string[] }): Promise<CompanyDirectory> {
    const site = new Types.ObjectId(siteId);
    const filter = narrowTo
      ? {
          siteId: site,
          $or: [
            { teamworkKey: { $in: narrowTo.teamworkKeys } },
            ...(narrowTo.nameKeys?.length ? [{ linked: false, nameKey: { $in: narrowTo.nameKeys } }] : []),
            ...(narrowTo.domains?.length ? [{ linked: false, domains: { $in: narrowTo.domains } }] : []),
          ],
        }
      : { siteId: site };
    const directory = new CompanyDirectory();
    for (const doc of await CompanyModel.find(filter, { teamworkKey: 1, nameKey: 1, domains: 1, linked: 1 }).lean()) {
      if (doc.linked && doc.teamworkKey) directory.linked.set(doc.teamworkKey, doc._id);
      else if (!doc.linked) directory.unlinked.push({ _id: doc._id, nameKey: doc.nameKey, domains: doc.domains });
    }
    return directory;
  }

  /** Teamwork.com company keys → Desk company; the ones it does not know are looked up. */
  async companiesFor(teamworkKeys: string[]): Promise<Map<string, Types.ObjectId>> {
    const missing = teamworkKeys.filter((key) => !this.linked.has(key));
    if (missing.length) {
      for (const doc of await CompanyModel.find({ teamworkKey: { $in: missing } }, { teamworkKey: 1 }).lean()) this.linked.set(doc.teamworkKey!, doc._id);
    }
    return this.linked;
  }
}

const directories = new Map<string, Promise<CompanyDirectory>>();
const directoriesKept = 16;

/** The directory of one sync run of a site, shared by the pages this process imports. */
export function companyDirectoryForRun(siteId: string, runKey: string): Promise<CompanyDirectory> {
  const key = `${siteId}:${runKey}`;
  let directory = directories.get(key);
  if (!directory) {
    directory = CompanyDirectory.load(siteId);
    directory.catch(() => directories.delete(key));
    directories.set(key, directory);
    if (directories.size > directoriesKept) directories.delete(directories.keys().next().value!);
  }
  return directory;
}

/**
 * Copies Teamwork.com companies into Desk, or links the Desk company that already stands for
 * them (same name, or a shared domain), so a re-run or a retry after a crash creates nothing
 * twice (C1, C2). Idempotency rests on the unique `teamworkKey` and `nameKey` indexes.
 */
export async function importTeamworkCompanies(siteId: string, companies: TeamworkCompany[], directoryOfRun?: CompanyDirectory): Promise<ImportCounts> {
  const counts = emptyCounts();
  counts.seen = companies.length;
  if (companies.length === 0) return counts;
  const site = new Types.ObjectId(siteId);
  const directory =
    directoryOfRun ??
    (await CompanyDirectory.load(siteId, {
      teamworkKeys: companies.map((c) => siteKey(siteId, c.id)),
      nameKeys: companies.map((c) => siteKey(siteId, nameKeyOf(c.name))),
      domains: [...new Set(companies.flatMap(companyDomains))],
    }));
  const pending = companies.filter((c) => !directory.linked.has(siteKey(siteId, c.id)));
  counts.alreadyLinked = companies.length - pending.length;
  if (pending.length === 0) return counts;

  const toInsert: Record<string, unknown>[] = [];
  const matches: { deskId: Types.ObjectId; company: TeamworkCompany }[] = [];
  for (const company of pending) {
    const nameKey = siteKey(siteId, nameKeyOf(company.name));
    const ownDomains = companyDomains(company);
    const candidates = directory.unlinked;
    const match = candidates.find((d) => d.nameKey === nameKey) ?? candidates.find((d) => d.domains?.some((dom) => ownDomains.includes(dom)));
    if (match) {
      directory.unlinked = candidates.filter((d) => d !== match);
      matches.push({ deskId: match._id, company });
    } else {
      toInsert.push(newCompanyDoc(site, siteId, company, nameKey, ownDomains));
    }
  }

  if (matches.length) {
    let refused = new Set<number>();
    try {
      const result = await CompanyModel.bulkWrite(
        matches.map(({ deskId, company }) => ({
          updateOne: {
            filter: { _id: deskId, linked: false },
            update: { $set: linkFields(siteId, company.id, teamworkCompanyValues(company)), $addToSet: { domains: { $each: companyDomains(company) } } },
          },
        })),
        { ordered: false },
      );
      counts.matched = result.modifiedCount;
    } catch (err) {
      // Another attempt already linked that Teamwork.com company to a Desk company.
      refused = duplicateIndexes(err);
      counts.matched = matches.length - refused.size;
      counts.alreadyLinked += refused.size;
    }
    matches.forEach(({ deskId, company }, i) => {
      if (!refused.has(i)) directory.linked.set(siteKey(siteId, company.id), deskId);
    });
  }
  // A duplicate nameKey without our teamworkKey means another Teamwork.com company already took
  // that Desk name; it stays unsynced rather than overwriting the other one.
  const inserted = await insertIgnoringDuplicates(CompanyModel, toInsert);
  counts.created = inserted.created;
  counts.alreadyLinked += inserted.ours.size;
  counts.skipped += inserted.foreign.length;
  const refused = new Set(inserted.foreign);
  for (const doc of toInsert) if (!refused.has(doc)) directory.linked.set(doc.teamworkKey as string, doc._id as Types.ObjectId);
  for (const [key, deskId] of inserted.ours) directory.linked.set(key, deskId);
  return counts;
}

function newCompanyDoc(site: Types.ObjectId, siteId: string, company: TeamworkCompany, nameKey: string, domains: string[]): Record<string, unknown> {
  const fields = companyFieldsOf(company);
  return {
    _id: new Types.ObjectId(),
    siteId: site,
    name: company.name.trim(),
    nameKey,
    website: fields.website,
    email: fields.email,
    domains,
    origin: 'teamwork',
    ...linkFields(siteId, company.id, teamworkCompanyValues(company)),
  };
}

function linkFields(siteId: string, teamworkId: number, base: object): Record<string, unknown> {
  return {
    teamworkId,
    teamworkKey: siteKey(siteId, teamworkId),
    linked: true,
    syncBase: base,
    syncStatus: { state: 'synced', at: new Date() },
    revision: 0,
  };
}

/**
 * Copies the users and contacts of synced companies into Desk customers, or links the Desk
 * customer with the same primary email (C1, C2). People of the owner company, or of a company
 * Desk does not hold, are skipped.
 *
 * New people are inserted first, and only those a unique index refuses are looked up: an earlier
 * attempt wrote them (their teamworkKey exists), or Desk holds their email address already.
 */
export async function importTeamworkPeople(siteId: string, people: TeamworkPerson[], options: { ownerCompanyId?: number; directory?: CompanyDirectory } = {}): Promise<ImportCounts> {
  const counts = emptyCounts();
  counts.seen = people.length;
  const live = people.filter((p) => !p.deleted && p.company?.id !== undefined && p.company.id !== options.ownerCompanyId && p.email);
  const companyKeys = [...new Set(live.map((p) => siteKey(siteId, p.company!.id)))];
  const directory = options.directory ?? (await CompanyDirectory.load(siteId, { teamworkKeys: companyKeys }));
  const deskCompanyOf = await directory.companiesFor(companyKeys);
  const eligible = live.filter((p) => deskCompanyOf.has(siteKey(siteId, p.company!.id)));
  counts.skipped = people.length - eligible.length;
  if (eligible.length === 0) return counts;

  const site = new Types.ObjectId(siteId);
  const byKey = new Map(eligible.map((p) => [siteKey(siteId, p.id), p]));
  const emailKeyOfPerson = (person: TeamworkPerson) => siteKey(siteId, emailKeyOf(person.email!));
  const toInsert: Record<string, unknown>[] = eligible.map((person) => {
    const fields = personFieldsOf(person);
    return {
      siteId: site,
      firstName: fields.firstName,
      lastName: fields.lastName,
      email: person.email!.trim(),
      emailKey: emailKeyOfPerson(person),
      alternativeEmails: fields.alternativeEmails,
      avatarUrl: fields.avatarUrl,
      socialNetworks: fields.socialNetworks,
      companyId: deskCompanyOf.get(siteKey(siteId, person.company!.id))!,
      origin: 'teamwork',
      // The agreed values in the merge's own vocabulary (C13): Teamwork.com's, as copied now.
      ...linkFields(siteId, person.id, teamworkPersonValues(person)),
    };
  });
  const inserted = await insertIgnoringDuplicates(CustomerModel, toInsert);
  counts.created = inserted.created;
  counts.alreadyLinked = inserted.ours.size;
  if (inserted.foreign.length === 0) return counts;

  // Refused for their email: an unlinked Desk customer with it is linked (C2); a linked one
  // belongs to another person, which Teamwork.com itself forbids.
  const refused = inserted.foreign.map((doc) => byKey.get(doc.teamworkKey as string)!);
  const existing = await CustomerModel.find({ emailKey: { $in: refused.map(emailKeyOfPerson) } }, { emailKey: 1, linked: 1, companyId: 1 }).lean();
  const existingByEmail = new Map(existing.map((c) => [c.emailKey!, c]));
  const matchOps: Parameters<typeof CustomerModel.bulkWrite>[0] = [];
  for (const person of refused) {
    const match = existingByEmail.get(emailKeyOfPerson(person));
    if (!match || match.linked) {
      counts.skipped += 1;
      continue;
    }
    const companyId = deskCompanyOf.get(siteKey(siteId, person.company!.id))!;
    matchOps.push({
      updateOne: {
        filter: { _id: match._id, linked: false },
        update: { $set: { ...linkFields(siteId, person.id, teamworkPersonValues(person)), ...(match.companyId ? {} : { companyId }) } },
      },
    });
  }
  if (matchOps.length) counts.matched = (await CustomerModel.bulkWrite(matchOps, { ordered: false })).modifiedCount;
  counts.skipped += matchOps.length - counts.matched;
  return counts;
}

/**
 * Unordered insert. Documents a unique index refused were either written by an earlier attempt
 * (a record with their teamworkKey exists: `ours`) or collide with another record (`foreign`).
 */
async function insertIgnoringDuplicates(
  model: typeof CompanyModel | typeof CustomerModel,
  docs: Record<string, unknown>[],
): Promise<{ created: number; ours: Map<string, Types.ObjectId>; foreign: Record<string, unknown>[] }> {
  if (docs.length === 0) return { created: 0, ours: new Map(), foreign: [] };
  let duplicates = new Set<number>();
  try {
    const now = new Date();
    await model.collection.insertMany(docs.map((d) => withoutUndefined({ ...d, createdAt: now, updatedAt: now })), { ordered: false });
  } catch (err) {
    duplicates = duplicateIndexes(err);
  }
  if (duplicates.size === 0) return { created: docs.length, ours: new Map(), foreign: [] };
  const dupDocs = [...duplicates].map((i) => docs[i]!);
  const existing = await model.collection.find({ teamworkKey: { $in: dupDocs.map((d) => d.teamworkKey as string) } }, { projection: { teamworkKey: 1 } }).toArray();
  const ours = new Map(existing.map((d) => [d.teamworkKey as string, d._id as Types.ObjectId]));
  return { created: docs.length - duplicates.size, ours, foreign: dupDocs.filter((d) => !ours.has(d.teamworkKey as string)) };
}

/** The driver would store `undefined` as null; absent fields must stay absent for sparse indexes. */
function withoutUndefined(doc: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(doc).filter(([, v]) => v !== undefined));
}
