import { isValidObjectId, Types } from 'mongoose';
import { z } from 'zod';
import { CompanyModel, CustomerModel, SiteModel, SyncHistoryModel, emailKeyOf, siteKey } from '../../models';
import { isDuplicateKey } from '../../activities/failures';
import { companyForEmail } from '../../activities/contact-sync/company-for-email';
import { problems } from '../problem';
import type { RouteTable } from '../routing';
import { customerViewSchema, errorResponses, idParams, pageOf as pageSchema, syncHistorySchema } from '../schemas';
import { customerView, syncHistoryView } from '../views';
import type { AppDeps } from '../deps';
import { handOverDeskChange } from '../link-changes';
import { filters, listPage, pageQuerySchema } from './listing';
import { tombstone } from './companies';

const optionalText = (max: number) => z.string().trim().min(1).max(max).nullable().optional();
const customerFields = {
  firstName: optionalText(100),
  lastName: optionalText(100),
  email: z.email().max(254).nullable().optional(),
  alternativeEmails: z.array(z.email().max(254)).max(3).optional(),
  avatarUrl: z.url({ protocol: /^https?$/ }).max(500).nullable().optional(),
  socialNetworks: z.strictObject({ twitter: optionalText(100), linkedin: optionalText(300), facebook: optionalText(300) }).optional(),
  companyId: z.string().refine(isValidObjectId, 'not a company id').nullable().optional(),
};
export const createCustomerSchema = z.strictObject(customerFields);
export const updateCustomerSchema = z.strictObject(customerFields).refine((b) => Object.keys(b).length > 0, 'nothing to change');

export const customerPageQuerySchema = pageQuerySchema.extend({ companyId: z.string().refine(isValidObjectId, 'not an id').optional() });

/** Maps an API body to document fields; a synced field's edit time drives the 'latest' policy (C13). */
function documentFields(siteId: string, body: z.infer<typeof createCustomerSchema>, now: Date) {
  const set: Record<string, unknown> = {};
  const unset: Record<string, 1> = {};
  const put = (field: string, value: unknown) => (value === null ? (unset[field] = 1) : (set[field] = value));
  for (const field of ['firstName', 'lastName', 'avatarUrl', 'alternativeEmails'] as const) {
    if (body[field] !== undefined) {
      put(field, body[field]);
      set[`fieldEditedAt.${field}`] = now;
    }
  }
  if (body.email !== undefined) {
    put('email', body.email);
    put('emailKey', body.email === null ? null : siteKey(siteId, emailKeyOf(body.email)));
    set['fieldEditedAt.email'] = now;
  }
  for (const [network, value] of Object.entries(body.socialNetworks ?? {})) {
    if (value === undefined) continue;
    put(`socialNetworks.${network}`, value);
    set[`fieldEditedAt.${network}`] = now;
  }
  if (body.companyId !== undefined) {
    put('companyId', body.companyId === null ? null : new Types.ObjectId(body.companyId));
    set['fieldEditedAt.company'] = now;
  }
  return { set, unset };
}

/** Customers (C6-C10, C11). Every query is scoped to the caller's site. */
export function addCustomerRoutes(routes: RouteTable, deps: AppDeps): void {
  const load = async (siteId: string, id: string) => {
    const customer = isValidObjectId(id) ? await CustomerModel.findOne({ _id: id, siteId }).lean() : null;
    if (!customer) throw problems.notFound('Customer');
    return customer;
  };
  const assertCompany = async (siteId: string, companyId: string | null | undefined) => {
    if (companyId && !(await CompanyModel.exists({ _id: companyId, siteId }))) throw problems.validation('companyId: no such company', [{ path: 'companyId', message: 'no such company' }]);
  };
  const siteIsLinked = async (siteId: string) => Boolean((await SiteModel.findById(siteId, { teamwork: 1 }).lean())?.teamwork);

  routes.add({
    method: 'get', path: '/api/customers', tag: 'customers', auth: 'user', summary: 'List customers with origin and link state (C10)',
    query: customerPageQuerySchema,
    responses: { 200: { description: 'A page of customers', schema: pageSchema(customerViewSchema) }, 400: errorResponses[400], 401: errorResponses[401] },
  }, async ({ actor, query, res }) => {
    res.json(await listPage(CustomerModel, { siteId: actor.siteId, ...filters(query), ...(query.companyId ? { companyId: query.companyId } : {}) }, query, customerView));
  });

  routes.add({
    method: 'post', path: '/api/customers', tag: 'customers', auth: 'user',
    summary: 'Create a customer; joins the company owning its email domain unless one is given (C6, C7, C9)',
    body: createCustomerSchema,
    responses: { 201: { description: 'Created', schema: customerViewSchema }, 400: errorResponses[400], 401: errorResponses[401], 409: { ...errorResponses[400], description: 'Email taken' } },
  }, async ({ actor, body, res }) => {
    await assertCompany(actor.siteId, body.companyId);
    const now = new Date();
    const { set } = documentFields(actor.siteId, body, now);
    if (!body.companyId && body.email) {
      const matched = await companyForEmail(actor.siteId, body.email);
      if (matched) set.companyId = new Types.ObjectId(matched);
    }
    const linkedSite = await siteIsLinked(actor.siteId);
    let customer;
    try {
      customer = await CustomerModel.create({
        ...expand(set),
        siteId: actor.siteId,
        origin: 'desk',
        syncStatus: linkedSite ? { state: 'pending', at: now } : { state: 'not_synced', reason: 'contact sync is not set up', at: now },
      });
    } catch (err) {
      if (isDuplicateKey(err)) throw problems.conflict('a customer with this email already exists');
      throw err;
    }
    // The link workflow decides whether it syncs (complete? linked company? setting on?).
    if (linkedSite) await handOverDeskChange(deps, 'customer', actor.siteId, customer._id, 'created');
    res.status(201).location(`/api/customers/${customer._id}`).json(customerView(customer.toObject()));
  });

  routes.add({
    method: 'get', path: '/api/customers/:id', tag: 'customers', auth: 'user', summary: 'One customer',
    params: idParams,
    responses: { 200: { description: 'The customer', schema: customerViewSchema }, 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, params, res }) => {
    res.json(customerView(await load(actor.siteId, params.id)));
  });

  routes.add({
    method: 'patch', path: '/api/customers/:id', tag: 'customers', auth: 'user',
    summary: 'Edit a customer; synced fields of a linked customer propagate (C7, C8)',
    params: idParams, body: updateCustomerSchema,
    responses: { 200: { description: 'Updated', schema: customerViewSchema }, 400: errorResponses[400], 401: errorResponses[401], 404: errorResponses[404], 409: { ...errorResponses[400], description: 'Email taken' } },
  }, async ({ actor, params, body, res }) => {
    const customer = await load(actor.siteId, params.id);
    await assertCompany(actor.siteId, body.companyId);
    const now = new Date();
    const { set, unset } = documentFields(actor.siteId, body, now);
    const linkedSite = await siteIsLinked(actor.siteId);
    if (linkedSite) set.syncStatus = { state: 'pending', at: now };
    let updated;
    try {
      updated = await CustomerModel.findOneAndUpdate({ _id: customer._id }, { $set: set, ...(Object.keys(unset).length ? { $unset: unset } : {}), $inc: { revision: 1 } }, { new: true }).lean();
    } catch (err) {
      if (isDuplicateKey(err)) throw problems.conflict('a customer with this email already exists');
      throw err;
    }
    if (linkedSite) await handOverDeskChange(deps, 'customer', actor.siteId, customer._id, 'updated');
    res.json(customerView(updated!));
  });

  routes.add({
    method: 'delete', path: '/api/customers/:id', tag: 'customers', auth: 'user',
    summary: 'Delete a customer; a link breaks and the Teamwork.com contact remains (C11)',
    params: idParams,
    responses: { 204: { description: 'Deleted' }, 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, params, res }) => {
    const customer = await load(actor.siteId, params.id);
    if (customer.teamworkId !== undefined && customer.teamworkId !== null) await tombstone(actor.siteId, 'customer', customer.teamworkId);
    await CustomerModel.deleteOne({ _id: customer._id });
    if (customer.linked) await handOverDeskChange(deps, 'customer', actor.siteId, customer._id, 'deleted');
    res.status(204).end();
  });

  routes.add({
    method: 'get', path: '/api/customers/:id/sync-history', tag: 'customers', auth: 'user',
    summary: 'What was synced, when, from which side, and every settled conflict (C13)',
    params: idParams,
    responses: { 200: { description: 'Oldest first', schema: z.object({ items: z.array(syncHistorySchema) }) }, 401: errorResponses[401], 404: errorResponses[404] },
  }, async ({ actor, params, res }) => {
    const id = isValidObjectId(params.id) ? new Types.ObjectId(params.id) : null;
    const entries = id ? await SyncHistoryModel.find({ siteId: actor.siteId, entity: 'customer', deskId: id }).sort({ at: 1, _id: 1 }).limit(500).lean() : [];
    if (entries.length === 0) await load(actor.siteId, params.id);
    res.json({ items: entries.map(syncHistoryView) });
  });
}

/** `{'socialNetworks.twitter': x}` → `{socialNetworks: {twitter: x}}` for a create. */
function expand(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, any> = {};
  for (const [path, value] of Object.entries(flat)) {
    const keys = path.split('.');
    let node = out;
    for (const key of keys.slice(0, -1)) node = node[key] ??= {};
    node[keys[keys.length - 1]!] = value;
  }
  return out;
}
