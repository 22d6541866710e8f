import type { Model } from 'mongoose';
import { z } from 'zod';
import { origins } from '../../models';

const booleanQuery = z.enum(['true', 'false']).transform((v) => v === 'true');

export const pageQuerySchema = z.strictObject({
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(50),
  linked: booleanQuery.optional(),
  origin: z.enum(origins).optional(),
});

export function filters(query: { linked?: boolean; origin?: string }): Record<string, unknown> {
  return { ...(query.linked === undefined ? {} : { linked: query.linked }), ...(query.origin ? { origin: query.origin } : {}) };
}

/** One page of a site-scoped list, in a stable order, with the total for paging UIs. */
export async function listPage<V>(model: Model<any>, filter: Record<string, unknown>, query: { page: number; pageSize: number }, view: (doc: any) => V) {
  const [docs, total] = await Promise.all([
    model.find(filter).sort({ _id: 1 }).skip((query.page - 1) * query.pageSize).limit(query.pageSize).lean(),
    model.countDocuments(filter),
  ]);
  return { items: (docs as unknown[]).map(view), page: query.page, pageSize: query.pageSize, total, hasMore: query.page * query.pageSize < total };
}
