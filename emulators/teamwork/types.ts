/** Stored records of one emulated Teamwork.com site. Timestamps are ISO 8601 strings with
 * millisecond precision, so string comparison orders them. */

export type UserType = 'account' | 'collaborator' | 'contact';
export const USER_TYPES: readonly UserType[] = ['account', 'collaborator', 'contact'];

export interface CompanyDomain {
  id: number;
  name: string;
}

export interface CompanyRecord {
  id: number;
  name: string;
  website: string;
  emailOne: string;
  emailTwo: string;
  emailThree: string;
  phone: string;
  addressOne: string;
  addressTwo: string;
  city: string;
  state: string;
  zip: string;
  countryCode: string;
  profileText: string;
  isOwner: boolean;
  domains: CompanyDomain[];
  status: 'active' | 'deleted';
  createdAt: string;
  updatedAt: string;
}

export interface PersonRecord {
  id: number;
  firstName: string;
  lastName: string;
  email: string;
  title: string;
  type: UserType;
  isClientUser: boolean;
  isAdmin: boolean;
  companyId: number;
  emailAlt1: string;
  emailAlt2: string;
  emailAlt3: string;
  avatarUrl: string;
  userTwitterName: string;
  userLinkedin: string;
  userFacebook: string;
  deleted: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface ProjectRecord {
  id: number;
  name: string;
  description: string;
  companyId: number;
  status: 'active' | 'archived';
  createdAt: string;
  updatedAt: string;
}

export interface TasklistRecord {
  id: number;
  name: string;
  projectId: number;
  createdAt: string;
  updatedAt: string;
}

export type TaskStatus = 'new' | 'reopened' | 'completed' | 'deleted';

export interface TaskRecord {
  id: number;
  name: string;
  description: string;
  status: TaskStatus;
  progress: number;
  tasklistId: number;
  projectId: number;
  assigneeUserIds: number[];
  dueAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export const WEBHOOK_EVENTS = [
  'COMPANY.CREATED',
  'COMPANY.UPDATED',
  'COMPANY.DELETED',
  'USER.CREATED',
  'USER.UPDATED',
  'USER.DELETED',
  'TASK.CREATED',
  'TASK.UPDATED',
  'TASK.COMPLETED',
  'TASK.DELETED',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookRecord {
  id: number;
  event: WebhookEvent;
  url: string;
  version: string;
  contentType: string;
  token: string;
  createdAt: string;
}

/** Writable company fields, in the v3 camelCase vocabulary (domains as plain names). */
export type CompanyInput = Partial<
  Pick<
    CompanyRecord,
    | 'name'
    | 'website'
    | 'emailOne'
    | 'emailTwo'
    | 'emailThree'
    | 'phone'
    | 'addressOne'
    | 'addressTwo'
    | 'city'
    | 'state'
    | 'zip'
    | 'countryCode'
    | 'profileText'
  >
> & { domains?: string[] };

/** Writable person fields, in the v3 camelCase vocabulary. */
export type PersonInput = Partial<
  Pick<
    PersonRecord,
    | 'firstName'
    | 'lastName'
    | 'email'
    | 'title'
    | 'type'
    | 'isClientUser'
    | 'isAdmin'
    | 'companyId'
    | 'emailAlt1'
    | 'emailAlt2'
    | 'emailAlt3'
    | 'avatarUrl'
    | 'userTwitterName'
    | 'userLinkedin'
    | 'userFacebook'
  >
>;

export interface TaskInput {
  name?: string;
  description?: string;
  status?: 'new' | 'reopened' | 'completed';
  progress?: number;
  assigneeUserIds?: number[];
  dueAt?: string | null;
}
