import { z } from 'zod';

/** Response shapes shared by several routes; they document the API and are checked in tests. */
export const problemSchema = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  instance: z.string().optional(),
});

export const syncStatusViewSchema = z.object({
  state: z.string(),
  reason: z.string().nullable(),
  missingFields: z.array(z.string()),
  at: z.string().nullable(),
});

export const companyViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  website: z.string().nullable(),
  email: z.string().nullable(),
  domains: z.array(z.string()),
  origin: z.enum(['teamwork', 'desk', 'ticket']),
  linked: z.boolean(),
  teamworkId: z.number().nullable(),
  syncStatus: syncStatusViewSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const customerViewSchema = z.object({
  id: z.string(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  email: z.string().nullable(),
  alternativeEmails: z.array(z.string()),
  avatarUrl: z.string().nullable(),
  socialNetworks: z.object({ twitter: z.string().nullable(), linkedin: z.string().nullable(), facebook: z.string().nullable() }),
  companyId: z.string().nullable(),
  origin: z.enum(['teamwork', 'desk', 'ticket']),
  linked: z.boolean(),
  teamworkId: z.number().nullable(),
  syncStatus: syncStatusViewSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), page: z.number().int(), pageSize: z.number().int(), total: z.number().int(), hasMore: z.boolean() });

export const idParams = z.object({ id: z.string() });

export const errorResponses = {
  400: { description: 'Invalid request', schema: problemSchema, contentType: 'application/problem+json' },
  401: { description: 'Missing or unknown token', schema: problemSchema, contentType: 'application/problem+json' },
  404: { description: 'Not found, or not visible to the caller', schema: problemSchema, contentType: 'application/problem+json' },
};

const anyValue = z.union([z.string(), z.array(z.string()), z.null()]);
export const syncHistorySchema = z.object({
  at: z.string(),
  action: z.string(),
  teamworkId: z.number().nullable(),
  changes: z.array(z.object({ field: z.string(), from: z.enum(['teamwork', 'desk']), value: anyValue })),
  conflicts: z.array(z.object({ field: z.string(), teamwork: anyValue, desk: anyValue, winner: z.string(), rule: z.string(), policy: z.string().nullable() })),
  reason: z.string().nullable(),
});

export const userViewSchema = z.object({ id: z.string(), email: z.string(), firstName: z.string().nullable(), lastName: z.string().nullable(), role: z.enum(['owner', 'admin', 'agent']), createdAt: z.string() });
