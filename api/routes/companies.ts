import { isValidObjectId, Types } from 'mongoose';
import { z } from 'zod';
import { CompanyModel, CustomerModel, LinkTombstoneModel, SiteModel, SyncHistoryModel, nameKeyOf, siteKey, tombstoneKey } from '../../models';
import { isDuplicateKey } from '../../activities/failures';
import { Problem, problems } from '../problem';
import type { RouteTable } from '../routing';
import { companyViewSchema, errorResponses, idParams, pageOf as pageSchema, syncHistorySchema } from '../schemas';
import { companyView, syncHistoryView } from '../views';
import type { AppDeps } from '../deps';
import { handOverDeskChange } from '../link-changes';
import { filters, listPage, pageQuerySchema } from './listing';

const domainSchema = z.string().trim().toLowerCase().regex(/^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}$/, 'a domain such as example.com or *.example.com');
const companyFields = {
  name: z.string().trim().min(1).max(200),
  website: z.string().trim().max(300).nullable().optional(),
  email: z.email().max(254).nullable().optional(),
  domains: z.array(domainSchema).max(50).optional(),
};
export const createCompanySchema = z.strictObject({ ...companyFields, addAsClient: z.boolean() });
export const updateCompanySchema = z.strictObject({ ...companyFields, name: companyFields.name.optional() }).refine((b) => Object.keys(b).length > 0, 'nothing to change');

const syncedCompanyFields = ['name', 'website', 'email'] as const;

/** Companies (C4, C5, C11, C12). Every query is scoped to the caller's site. */
export function addCompanyRoutes(routes: RouteTable, deps: AppDeps): void {
  const load = async (siteId: string, id: string) => {
    const company = isValidObjectId(id) ? await CompanyModel.findOne({ _id: id, siteId }).lean() : null;
    if (!company) throw problems.notFound('Company');
    return company;
  };

  routes.add({
    method: 'get', path: '/api/companies', tag: 'companies', auth: 'user', summary: 'List companies with link state (C12)',
    query: pageQuerySchema,
    responses: { 200: { description: 'A page of companies', schema: pageSchema(companyViewSchema) }, 400: errorResponses[400], 401: errorResponses[401] },
  }, async ({ actor, query, res }) => {
    res.json(await listPage(CompanyModel, { siteId: actor.siteId, ...filters(query) }, query, companyView));
  });

  routes.add({
    method: 'post', path: '/api/companies', tag: 'companies', auth: 'user',
    summary: 'Create a company; with addAsClient it is created in Teamwork.com and linked (C4)',
    body: createCompanySchema,
    responses: { 201: { description: 'Created', schema: companyViewSchema }, 400: errorResponses[400], 401: errorResponses[401], 409: { ...errorResponses[400], description: 'Name taken' }, 422: { ...errorResponses[400], description: 'Site not linked to Teamwork.com' } },
  }, async ({ actor, body, res }) => {
    const site = await SiteModel.findById(actor.siteId, { teamwork: 1 }).lean();
    if (body.addAsClient && !site?.teamwork) throw new Problem(422, 'not-linked', 'Contact sync is not set up', 'addAsClient needs the site to be linked to Teamwork.com');
    let company;
    try {
      company = await CompanyModel.create({
        siteId: actor.siteId,
        name: body.name,
        nameKey: siteKey(actor.siteId, nameKeyOf(body.name)),
        website: body.website ?? undefined,
        email: body.email ?? undefined,
        domains: body.domains ?? [],
        origin: 'desk',
        addAsClient: body.addAsClient,
        syncStatus: { state: body.addAsClient ? 'pending' : 'not_synced', reason: body.addAsClient ? undefined : 'not added as a client in Teamwork.com', at: new Date() },
      });
    } catch (err) {
      if (isDuplicateKey(err)) throw problems.conflict(`a company named "${body.name}" already exists`);
      throw err;
    }
    if (body.addAsClient) await handOverDeskChange(deps, 'company', actor.siteId, company._id, 'created');
    res.status(201).location(`/api/companies/${company._id}`).json(companyView(company.toObject()));
  });

  routes.add({
    method: 'get', path: '/api/companies/:id', tag: 'companies', auth: 'user', summary: 'One company',
    params: idParams,
    responses: { 200: { description: 'The company', schema: companyViewSchema }, 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, params, res }) => {
    res.json(companyView(await load(actor.siteId, params.id)));
  });

  routes.add({
    method: 'patch', path: '/api/companies/:id', tag: 'companies', auth: 'user',
    summary: 'Edit a company; name, website and email of a linked company propagate (C5)',
    params: idParams, body: updateCompanySchema,
    responses: { 200: { description: 'Updated', schema: companyViewSchema }, 400: errorResponses[400], 401: errorResponses[401], 404: errorResponses[404], 409: { ...errorResponses[400], description: 'Name taken' } },
  }, async ({ actor, params, body, res }) => {
    const company = await load(actor.siteId, params.id);
    const set: Record<string, unknown> = {};
    const unset: Record<string, 1> = {};
    const now = new Date();
    for (const [field, value] of Object.entries(body)) {
      if (value === null) unset[field] = 1;
      else set[field] = value;
      if ((syncedCompanyFields as readonly string[]).includes(field)) set[`fieldEditedAt.${field}`] = now;
    }
    if (body.name) set.nameKey = siteKey(actor.siteId, nameKeyOf(body.name));
    if (company.linked) set.syncStatus = { state: 'pending', at: now };
    let updated;
    try {
      updated = await CompanyModel.findOneAndUpdate({ _id: company._id }, { $set: set, ...(Object.keys(unset).length ? { $unset: unset } : {}), $inc: { revision: 1 } }, { new: true }).lean();
    } catch (err) {
      if (isDuplicateKey(err)) throw problems.conflict(`a company named "${body.name}" already exists`);
      throw err;
    }
    if (company.linked) await handOverDeskChange(deps, 'company', actor.siteId, company._id, 'updated');
    res.json(companyView(updated!));
  });

  routes.add({
    method: 'delete', path: '/api/companies/:id', tag: 'companies', auth: 'user',
    summary: 'Delete a company; a link breaks and the Teamwork.com company remains (C11)',
    params: idParams,
    responses: { 204: { description: 'Deleted' }, 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, params, res }) => {
    const company = await load(actor.siteId, params.id);
    if (company.teamworkId !== undefined && company.teamworkId !== null) await tombstone(actor.siteId, 'company', company.teamworkId);
    await CompanyModel.deleteOne({ _id: company._id });
    // Desk keeps a deleted company's customers; they just no longer belong to it.
    await CustomerModel.updateMany({ siteId: actor.siteId, companyId: company._id }, { $unset: { companyId: 1 }, $inc: { revision: 1 } });
    if (company.linked) await handOverDeskChange(deps, 'company', actor.siteId, company._id, 'deleted');
    res.status(204).end();
  });

  routes.add({
    method: 'get', path: '/api/companies/:id/sync-history', tag: 'companies', auth: 'user',
    summary: 'What was synced, when, from which side, and every settled conflict (C13)',
    params: idParams,
    responses: { 200: { description: 'Oldest first', schema: z.object({ items: z.array(syncHistorySchema) }) }, 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, params, res }) => {
    const id = isValidObjectId(params.id) ? new Types.ObjectId(params.id) : null;
    const entries = id ? await SyncHistoryModel.find({ siteId: actor.siteId, entity: 'company', deskId: id }).sort({ at: 1, _id: 1 }).limit(500).lean() : [];
    if (entries.length === 0) await load(actor.siteId, params.id);
    res.json({ items: entries.map(syncHistoryView) });
  });
}

/** Records that the link of this Teamwork.com id is broken from the Desk side (C11). */
export async function tombstone(siteId: string, entity: 'company' | 'customer', teamworkId: number): Promise<void> {
  try {
    await LinkTombstoneModel.updateOne(
      { key: tombstoneKey(siteId, entity, teamworkId) },
      { $setOnInsert: { siteId: new Types.ObjectId(siteId), entity, teamworkId, brokenBy: 'desk', at: new Date() } },
      { upsert: true },
    );
  } catch (err) {
    // Two deletes of the same record race to upsert it; the loser finds the tombstone in place.
    if (!isDuplicateKey(err)) throw err;
  }
}
