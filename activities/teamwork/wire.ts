import { z } from 'zod';

/**
 * Teamwork.com wire shapes, validated on the way in (the API is input like any other).
 * Only the fields deskbridge reads are declared; everything else passes through untouched.
 */
const optionalText = z.string().nullish().transform((v) => v ?? undefined);

export const companySchema = z.looseObject({
  id: z.coerce.number(),
  name: z.string(),
  website: optionalText,
  emailOne: optionalText,
  emailTwo: optionalText,
  emailThree: optionalText,
  isOwner: z.boolean().optional().default(false),
  status: optionalText,
  updatedAt: optionalText,
});
export type TeamworkCompany = z.infer<typeof companySchema>;

export const personSchema = z.looseObject({
  id: z.coerce.number(),
  firstName: optionalText,
  lastName: optionalText,
  email: optionalText,
  type: optionalText,
  company: z.looseObject({ id: z.coerce.number() }).nullish(),
  deleted: z.boolean().optional(),
  updatedAt: optionalText,
  emailAlt1: optionalText,
  emailAlt2: optionalText,
  emailAlt3: optionalText,
  avatarUrl: optionalText,
  userTwitterName: optionalText,
  userLinkedin: optionalText,
  userFacebook: optionalText,
});
export type TeamworkPerson = z.infer<typeof personSchema>;

const pageMetaSchema = z.looseObject({
  page: z.looseObject({ hasMore: z.boolean(), count: z.number().optional(), pageSize: z.number().optional(), pageOffset: z.number().optional() }),
});

export const companyListSchema = z.looseObject({ companies: z.array(companySchema), meta: pageMetaSchema });
export const peopleListSchema = z.looseObject({ people: z.array(personSchema), meta: pageMetaSchema });
export const companyEnvelopeSchema = z.looseObject({ company: companySchema });
export const personEnvelopeSchema = z.looseObject({ person: personSchema });
export const createdIdSchema = z.looseObject({ id: z.union([z.string(), z.number()]).transform(Number) });
export const webhookListSchema = z.looseObject({
  webhooks: z.array(z.looseObject({ id: z.coerce.number(), event: z.string(), url: z.string() })),
});

/** Desk-side names of the synced company fields (C5) and their Teamwork.com counterparts. */
export interface CompanyFields {
  name?: string;
  website?: string;
  email?: string;
}

export function companyFieldsOf(company: TeamworkCompany): CompanyFields {
  return { name: company.name, website: company.website || undefined, email: company.emailOne || undefined };
}

/** Desk-side names of the synced customer fields (C7, C8). */
export interface PersonFields {
  firstName?: string;
  lastName?: string;
  email?: string;
  alternativeEmails?: string[];
  avatarUrl?: string;
  socialNetworks?: { twitter?: string; linkedin?: string; facebook?: string };
  teamworkCompanyId?: number;
}

export function personFieldsOf(person: TeamworkPerson): PersonFields {
  const social = { twitter: person.userTwitterName || undefined, linkedin: person.userLinkedin || undefined, facebook: person.userFacebook || undefined };
  return {
    firstName: person.firstName || undefined,
    lastName: person.lastName || undefined,
    email: person.email || undefined,
    alternativeEmails: [person.emailAlt1, person.emailAlt2, person.emailAlt3].filter((e): e is string => Boolean(e)),
    avatarUrl: person.avatarUrl || undefined,
    socialNetworks: Object.values(social).some(Boolean) ? social : undefined,
    teamworkCompanyId: person.company?.id,
  };
}

/**
 * v1 person writes use hyphenated keys. Only the fields given are sent, so a partial update
 * leaves the others as Teamwork.com holds them; an empty string clears a field.
 */
export function v1PersonBody(fields: PersonFields): Record<string, unknown> {
  const body: Record<string, unknown> = {
    'first-name': fields.firstName,
    'last-name': fields.lastName,
    'email-address': fields.email,
    'company-id': fields.teamworkCompanyId,
    'avatar-url': fields.avatarUrl,
    userTwitterName: fields.socialNetworks?.twitter,
    userLinkedin: fields.socialNetworks?.linkedin,
    userFacebook: fields.socialNetworks?.facebook,
  };
  if (fields.alternativeEmails) {
    for (let i = 0; i < 3; i++) body[`email-alt-${i + 1}`] = fields.alternativeEmails[i] ?? '';
  }
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

export function v3CompanyBody(fields: CompanyFields): Record<string, unknown> {
  const body: Record<string, unknown> = { name: fields.name, website: fields.website, emailOne: fields.email };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

export const projectSchema = z.looseObject({ id: z.coerce.number(), name: z.string(), status: optionalText });
export type TeamworkProject = z.infer<typeof projectSchema>;

export const tasklistSchema = z.looseObject({ id: z.coerce.number(), name: z.string(), projectId: z.coerce.number().optional() });
export type TeamworkTasklist = z.infer<typeof tasklistSchema>;

export const taskSchema = z.looseObject({
  id: z.coerce.number(),
  name: z.string(),
  description: optionalText,
  status: z.string(),
  progress: z.number().nullish().transform((v) => v ?? 0),
  tasklistId: z.coerce.number().optional(),
  assigneeUsers: z.array(z.looseObject({ id: z.coerce.number() })).nullish().transform((v) => v ?? []),
  dueAt: optionalText,
  updatedAt: optionalText,
});
export type TeamworkTask = z.infer<typeof taskSchema>;

export const projectListSchema = z.looseObject({ projects: z.array(projectSchema), meta: pageMetaSchema });
export const tasklistListSchema = z.looseObject({ tasklists: z.array(tasklistSchema), meta: pageMetaSchema });
export const taskListSchema = z.looseObject({ tasks: z.array(taskSchema), meta: pageMetaSchema });
export const taskEnvelopeSchema = z.looseObject({ task: taskSchema });

/** What deskbridge writes when it creates a task (I13); assignees are Teamwork.com user ids. */
export interface TaskFields {
  name: string;
  description?: string;
  assigneeUserIds?: number[];
  /** `YYYY-MM-DD`, as Teamwork.com's v3 task `dueAt` takes it. */
  dueAt?: string;
}

export function v3TaskBody(fields: TaskFields): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: fields.name,
    description: fields.description,
    assignees: fields.assigneeUserIds?.length ? { userIds: fields.assigneeUserIds } : undefined,
    dueAt: fields.dueAt,
  };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}
