import type { FieldValues } from '../../domain/sync';
import type { CompanyFields, PersonFields, TeamworkCompany, TeamworkPerson } from '../teamwork/wire';
import { personFieldsOf } from '../teamwork/wire';

/**
 * The synced fields of each entity, in one vocabulary for both sides (C5 for companies; C7/C8
 * for customers, where `company` is the Teamwork.com id of the customer's company, so moving a
 * contact between linked companies is an "associated contacts" edit).
 */
export const companySyncFields = ['name', 'website', 'email'] as const;
export const customerSyncFields = ['firstName', 'lastName', 'email', 'alternativeEmails', 'avatarUrl', 'twitter', 'linkedin', 'facebook', 'company'] as const;

const text = (v: string | null | undefined): string | undefined => (v === null || v === undefined || v.trim() === '' ? undefined : v.trim());

export function teamworkCompanyValues(c: TeamworkCompany): FieldValues {
  return { name: text(c.name), website: text(c.website), email: text(c.emailOne) };
}

export function deskCompanyValues(c: { name?: string | null; website?: string | null; email?: string | null }): FieldValues {
  return { name: text(c.name), website: text(c.website), email: text(c.email) };
}

export function companyFieldsFromValues(values: FieldValues): CompanyFields {
  // Teamwork.com clears a field when sent an empty string; undefined would leave it untouched.
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, (v as string | undefined) ?? ''])) as CompanyFields;
}

export function teamworkPersonValues(p: TeamworkPerson): FieldValues {
  const f = personFieldsOf(p);
  return {
    firstName: text(f.firstName),
    lastName: text(f.lastName),
    email: text(f.email),
    alternativeEmails: f.alternativeEmails ?? [],
    avatarUrl: text(f.avatarUrl),
    twitter: text(f.socialNetworks?.twitter),
    linkedin: text(f.socialNetworks?.linkedin),
    facebook: text(f.socialNetworks?.facebook),
    company: f.teamworkCompanyId === undefined ? undefined : String(f.teamworkCompanyId),
  };
}

export interface DeskCustomerLike {
  firstName?: string | null;
  lastName?: string | null;
  email?: string | null;
  alternativeEmails?: string[] | null;
  avatarUrl?: string | null;
  socialNetworks?: { twitter?: string | null; linkedin?: string | null; facebook?: string | null } | null;
}

export function deskCustomerValues(c: DeskCustomerLike, companyTeamworkId: number | undefined): FieldValues {
  return {
    firstName: text(c.firstName),
    lastName: text(c.lastName),
    email: text(c.email),
    alternativeEmails: (c.alternativeEmails ?? []).slice(0, 3),
    avatarUrl: text(c.avatarUrl),
    twitter: text(c.socialNetworks?.twitter),
    linkedin: text(c.socialNetworks?.linkedin),
    facebook: text(c.socialNetworks?.facebook),
    company: companyTeamworkId === undefined ? undefined : String(companyTeamworkId),
  };
}

/** Only the changed fields go into the v1 PUT; unchanged ones stay as Teamwork.com holds them. */
export function personFieldsFromValues(values: FieldValues): PersonFields {
  const fields: PersonFields = {};
  const str = (k: string) => (values[k] as string | undefined) ?? '';
  if ('firstName' in values) fields.firstName = str('firstName');
  if ('lastName' in values) fields.lastName = str('lastName');
  if ('email' in values) fields.email = str('email');
  if ('alternativeEmails' in values) fields.alternativeEmails = (values.alternativeEmails as string[] | undefined) ?? [];
  if ('avatarUrl' in values) fields.avatarUrl = str('avatarUrl');
  if ('twitter' in values || 'linkedin' in values || 'facebook' in values) {
    fields.socialNetworks = {};
    if ('twitter' in values) fields.socialNetworks.twitter = str('twitter');
    if ('linkedin' in values) fields.socialNetworks.linkedin = str('linkedin');
    if ('facebook' in values) fields.socialNetworks.facebook = str('facebook');
  }
  if ('company' in values && values.company !== undefined) fields.teamworkCompanyId = Number(values.company);
  return fields;
}
