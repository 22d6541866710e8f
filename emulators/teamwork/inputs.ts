/**
 * Request bodies, validated and translated into the domain's camelCase inputs. Unknown keys are
 * dropped (Teamwork.com ignores them too); keys of the wrong type are a 400.
 */
import { z } from 'zod';
import { EmulatorError } from './errors';
import { USER_TYPES, type CompanyInput, type PersonInput, type TaskInput } from './types';

/** `null` clears a text field, as an empty string does. */
const text = z
  .string()
  .nullable()
  .transform((value) => value ?? '');
const id = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);
const flag = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1')]);

export function parseInput<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new EmulatorError('bad_request', z.prettifyError(result.error));
  return result.data;
}

const companyTextFields = {
  website: text.optional(),
  emailOne: text.optional(),
  emailTwo: text.optional(),
  emailThree: text.optional(),
  phone: text.optional(),
  addressOne: text.optional(),
  addressTwo: text.optional(),
  city: text.optional(),
  state: text.optional(),
  zip: text.optional(),
};

/** The control surface's vocabulary: the stored field names, domains as plain strings. */
export const companyInputSchema: z.ZodType<CompanyInput> = z.object({
  name: z.string().optional(),
  ...companyTextFields,
  countryCode: text.optional(),
  profileText: text.optional(),
  domains: z.array(z.string()).optional(),
});

export const personInputSchema: z.ZodType<PersonInput> = z.object({
  firstName: text.optional(),
  lastName: text.optional(),
  email: text.optional(),
  title: text.optional(),
  type: z.enum(USER_TYPES).optional(),
  isClientUser: flag.optional(),
  isAdmin: flag.optional(),
  companyId: id.optional(),
  emailAlt1: text.optional(),
  emailAlt2: text.optional(),
  emailAlt3: text.optional(),
  avatarUrl: text.optional(),
  userTwitterName: text.optional(),
  userLinkedin: text.optional(),
  userFacebook: text.optional(),
});

export const taskInputSchema: z.ZodType<TaskInput> = z.object({
  name: z.string().optional(),
  description: text.optional(),
  status: z.enum(['new', 'reopened', 'completed']).optional(),
  progress: z.number().optional(),
  assigneeUserIds: z.array(id).optional(),
  dueAt: z.string().nullable().optional(),
});

/** v3 company body: `countrycode` is lower-case in requests, `profile` feeds `profileText`, and
 * domains come as `companyDomains: [{name}]` (plain strings are tolerated). */
export const v3CompanyBodySchema = z.object({
  company: z
    .object({
      name: z.string().optional(),
      ...companyTextFields,
      countrycode: text.optional(),
      countryCode: text.optional(),
      profile: text.optional(),
      companyDomains: z.array(z.union([z.string(), z.object({ name: z.string() })])).optional(),
    })
    .transform(({ countrycode, countryCode, profile, companyDomains, ...rest }): CompanyInput => ({
      ...rest,
      countryCode: countrycode ?? countryCode,
      profileText: profile,
      domains: companyDomains?.map((domain) => (typeof domain === 'string' ? domain : domain.name)),
    })),
});

/** v1 person body with hyphenated keys, mapped onto the v3 vocabulary. */
export const v1PersonBodySchema = z.object({
  person: z
    .object({
      'first-name': text.optional(),
      'last-name': text.optional(),
      'email-address': text.optional(),
      'user-type': z.enum(USER_TYPES).optional(),
      'company-id': id.optional(),
      title: text.optional(),
      administrator: flag.optional(),
      isClientUser: flag.optional(),
      'email-alt-1': text.optional(),
      'email-alt-2': text.optional(),
      'email-alt-3': text.optional(),
      'avatar-url': text.optional(),
      userTwitterName: text.optional(),
      userLinkedin: text.optional(),
      userFacebook: text.optional(),
    })
    .transform(
      (raw): PersonInput => ({
        firstName: raw['first-name'],
        lastName: raw['last-name'],
        email: raw['email-address'],
        type: raw['user-type'],
        companyId: raw['company-id'],
        title: raw.title,
        isAdmin: raw.administrator,
        isClientUser: raw.isClientUser,
        emailAlt1: raw['email-alt-1'],
        emailAlt2: raw['email-alt-2'],
        emailAlt3: raw['email-alt-3'],
        avatarUrl: raw['avatar-url'],
        userTwitterName: raw.userTwitterName,
        userLinkedin: raw.userLinkedin,
        userFacebook: raw.userFacebook,
      }),
    ),
});

/** v3 task body: assignees as `{userIds: [...]}`. */
export const v3TaskBodySchema = z.object({
  task: z
    .object({
      name: z.string().optional(),
      description: text.optional(),
      status: z.enum(['new', 'reopened', 'completed']).optional(),
      progress: z.number().optional(),
      assignees: z.object({ userIds: z.array(id) }).optional(),
      dueAt: z.string().nullable().optional(),
    })
    .transform(
      ({ assignees, ...rest }): TaskInput => ({ ...rest, assigneeUserIds: assignees?.userIds }),
    ),
});

export const v1WebhookBodySchema = z.object({
  webhook: z.object({
    event: z.string(),
    url: z.string(),
    version: z.union([z.string(), z.number()]).optional(),
    contentType: z.string().optional(),
    token: z.string().optional(),
  }),
});
