/**
 * Wire formats: how stored records look on the Teamwork.com API (v3 camelCase with `{id, type}`
 * relationships, v1 hyphenated keys with string ids) and in webhook payloads.
 */
import type {
  CompanyRecord,
  PersonRecord,
  ProjectRecord,
  TaskRecord,
  TasklistRecord,
} from './types';

const relation = (id: number, type: string) => ({ id, type });

export function companyV3(company: CompanyRecord) {
  return {
    id: company.id,
    name: company.name,
    website: company.website,
    emailOne: company.emailOne,
    emailTwo: company.emailTwo,
    emailThree: company.emailThree,
    phone: company.phone,
    fax: '',
    addressOne: company.addressOne,
    addressTwo: company.addressTwo,
    city: company.city,
    state: company.state,
    zip: company.zip,
    countryCode: company.countryCode,
    profileText: company.profileText,
    isOwner: company.isOwner,
    companyDomains: company.domains.map((domain) => relation(domain.id, 'companyDomains')),
    status: company.status,
    createdAt: company.createdAt,
    updatedAt: company.updatedAt,
  };
}

/** v3 sideload of the domain objects the relationships point at, keyed by id as v3 does. */
export function includedCompanyDomains(companies: CompanyRecord[]) {
  const companyDomains: Record<string, { id: number; name: string; companyId: number }> = {};
  for (const company of companies) {
    for (const domain of company.domains) {
      companyDomains[String(domain.id)] = { id: domain.id, name: domain.name, companyId: company.id };
    }
  }
  return { companyDomains };
}

export function personV3(person: PersonRecord) {
  return {
    id: person.id,
    firstName: person.firstName,
    lastName: person.lastName,
    email: person.email,
    title: person.title,
    type: person.type,
    isClientUser: person.isClientUser,
    isAdmin: person.isAdmin,
    company: relation(person.companyId, 'companies'),
    companyId: person.companyId,
    emailAlt1: person.emailAlt1,
    emailAlt2: person.emailAlt2,
    emailAlt3: person.emailAlt3,
    avatarUrl: person.avatarUrl,
    userTwitterName: person.userTwitterName,
    userLinkedin: person.userLinkedin,
    userFacebook: person.userFacebook,
    deleted: person.deleted,
    createdAt: person.createdAt,
    updatedAt: person.updatedAt,
  };
}

export function personV1(person: PersonRecord, companyName: string) {
  return {
    id: String(person.id),
    'first-name': person.firstName,
    'last-name': person.lastName,
    'email-address': person.email,
    'user-type': person.type,
    'company-id': String(person.companyId),
    'company-name': companyName,
    title: person.title,
    administrator: person.isAdmin,
    isClientUser: person.isClientUser,
    'email-alt-1': person.emailAlt1,
    'email-alt-2': person.emailAlt2,
    'email-alt-3': person.emailAlt3,
    'avatar-url': person.avatarUrl,
    userTwitterName: person.userTwitterName,
    userLinkedin: person.userLinkedin,
    userFacebook: person.userFacebook,
    deleted: person.deleted,
    'created-at': person.createdAt,
    'last-changed-on': person.updatedAt,
  };
}

export function projectV3(project: ProjectRecord) {
  return {
    id: project.id,
    name: project.name,
    description: project.description,
    status: project.status,
    company: relation(project.companyId, 'companies'),
    companyId: project.companyId,
    createdAt: project.createdAt,
    updatedAt: project.updatedAt,
  };
}

export function tasklistV3(tasklist: TasklistRecord) {
  return {
    id: tasklist.id,
    name: tasklist.name,
    project: relation(tasklist.projectId, 'projects'),
    projectId: tasklist.projectId,
    createdAt: tasklist.createdAt,
    updatedAt: tasklist.updatedAt,
  };
}

export function taskV3(task: TaskRecord) {
  return {
    id: task.id,
    name: task.name,
    description: task.description,
    status: task.status,
    progress: task.progress,
    tasklist: relation(task.tasklistId, 'tasklists'),
    tasklistId: task.tasklistId,
    projectId: task.projectId,
    assigneeUsers: task.assigneeUserIds.map((id) => relation(id, 'users')),
    dueAt: task.dueAt,
    createdAt: task.createdAt,
    updatedAt: task.updatedAt,
  };
}

/** The `eventCreator` block of v2 webhook payloads. */
export function eventCreator(person: PersonRecord) {
  return {
    id: person.id,
    firstName: person.firstName,
    lastName: person.lastName,
    avatar: person.avatarUrl,
  };
}
