/**
 * One emulated Teamwork.com site: its companies and people with the indexes that keep lookups and
 * paging fast, and the rules Teamwork.com enforces on them. Every change made here (whether it came
 * from the API or from the control surface acting as the Teamwork UI) is announced to `onChange`,
 * which turns it into webhook deliveries.
 */
import { MonotonicClock } from './clock';
import { EmulatorError } from './errors';
import { SortedViews } from './listing';
import type {
  CompanyInput,
  CompanyRecord,
  PersonInput,
  PersonRecord,
  ProjectRecord,
  TaskRecord,
  TasklistRecord,
  WebhookEvent,
  WebhookRecord,
} from './types';
import { companyV3, personV3 } from './wire';

export type WebhookEntityKey = 'company' | 'user' | 'task';

export type ChangeListener = (
  installation: Installation,
  event: WebhookEvent,
  entityKey: WebhookEntityKey,
  entity: object,
) => void;

export type Collection = 'companies' | 'people' | 'projects' | 'tasklists' | 'tasks';

const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const ONE_DAY_MS = 86_400_000;

const nameKey = (name: string) => name.trim().toLowerCase();
const emailKey = (email: string) => email.trim().toLowerCase();

/** Drops `undefined` so a partial patch never blanks a field it does not mention. */
function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<T>;
}

export class Installation {
  readonly companies = new Map<number, CompanyRecord>();
  readonly people = new Map<number, PersonRecord>();
  readonly projects = new Map<number, ProjectRecord>();
  readonly tasklists = new Map<number, TasklistRecord>();
  readonly tasks = new Map<number, TaskRecord>();
  readonly webhooks = new Map<number, WebhookRecord>();
  /** Bumped on every write to a collection, so sorted list views can be cached between writes. */
  readonly revisions: Record<Collection, number> = { companies: 0, people: 0, projects: 0, tasklists: 0, tasks: 0 };
  readonly sortedViews = new SortedViews();
  readonly clock: MonotonicClock;
  readonly ownerCompanyId: number;
  readonly siteOwnerId: number;

  private readonly activeCompanyIdByName = new Map<string, number>();
  private readonly activePersonIdByEmail = new Map<string, number>();
  private readonly personIdsByCompany = new Map<number, Set<number>>();
  private readonly lastIds: Record<Collection | 'domains' | 'webhooks', number> = {
    companies: 0,
    people: 0,
    projects: 0,
    tasklists: 0,
    tasks: 0,
    domains: 0,
    webhooks: 0,
  };

  constructor(
    readonly name: string,
    ownerCompanyName: string,
    private readonly onChange: ChangeListener,
  ) {
    // The site existed before anyone looks at it: its own company and owner predate all other data.
    const founded = Date.now() - ONE_DAY_MS;
    this.clock = new MonotonicClock(founded + 1);
    const owner = this.adoptCompany(this.newCompany(ownerCompanyName, new Date(founded).toISOString(), true));
    this.ownerCompanyId = owner.id;
    this.siteOwnerId = this.adoptPerson({
      ...this.blankPerson(new Date(founded + 1).toISOString()),
      id: this.nextId('people'),
      firstName: 'Site',
      lastName: 'Owner',
      email: `owner@${name}.teamwork.test`,
      type: 'account',
      isAdmin: true,
      companyId: owner.id,
    }).id;
  }

  nextId(kind: keyof Installation['lastIds']): number {
    this.lastIds[kind] += 1;
    return this.lastIds[kind];
  }

  /** Makes the next generated id of `kind` at least `firstId` (seeding with a chosen id range). */
  skipIdsBelow(kind: keyof Installation['lastIds'], firstId: number): void {
    this.lastIds[kind] = Math.max(this.lastIds[kind], firstId - 1);
  }

  touch(collection: Collection): void {
    this.revisions[collection] += 1;
  }

  notify(event: WebhookEvent, entityKey: WebhookEntityKey, entity: object): void {
    this.onChange(this, event, entityKey, entity);
  }

  get siteOwner(): PersonRecord {
    return this.people.get(this.siteOwnerId)!;
  }

  // ---- companies -------------------------------------------------------------------------

  activeCompany(id: number): CompanyRecord {
    const company = this.companies.get(id);
    if (!company || company.status === 'deleted') throw new EmulatorError('not_found', `Company ${id} not found`);
    return company;
  }

  companyIdByName(name: string): number | undefined {
    return this.activeCompanyIdByName.get(nameKey(name));
  }

  /** Active people of a company, in id order. */
  peopleOfCompany(companyId: number): PersonRecord[] {
    return [...(this.personIdsByCompany.get(companyId) ?? [])]
      .map((id) => this.people.get(id)!)
      .filter((person) => !person.deleted);
  }

  createCompany(input: CompanyInput): CompanyRecord {
    const name = (input.name ?? '').trim();
    if (!name) throw new EmulatorError('validation', 'Company name is required');
    this.assertCompanyNameFree(name);
    const company = this.newCompany(name, this.clock.next(), false);
    this.applyCompanyFields(company, { ...input, name });
    this.adoptCompany(company);
    this.notify('COMPANY.CREATED', 'company', companyV3(company));
    return company;
  }

  updateCompany(id: number, patch: CompanyInput): CompanyRecord {
    const company = this.activeCompany(id);
    const fields = definedOnly(patch);
    if (fields.name !== undefined) {
      fields.name = fields.name.trim();
      if (!fields.name) throw new EmulatorError('validation', 'Company name cannot be empty');
      this.assertCompanyNameFree(fields.name, id);
      this.activeCompanyIdByName.delete(nameKey(company.name));
      this.activeCompanyIdByName.set(nameKey(fields.name), id);
    }
    this.applyCompanyFields(company, fields);
    company.updatedAt = this.clock.next();
    this.touch('companies');
    this.notify('COMPANY.UPDATED', 'company', companyV3(company));
    return company;
  }

  /** Deleting a company deletes its people (each announced on its own) and hands its projects to
   * the owner company, as the Teamwork.com UI does. */
  deleteCompany(id: number): void {
    const company = this.activeCompany(id);
    if (company.isOwner) throw new EmulatorError('forbidden', 'The owner company cannot be deleted');
    for (const person of this.peopleOfCompany(id)) this.deletePerson(person.id);
    for (const project of this.projects.values()) {
      if (project.companyId === id) {
        project.companyId = this.ownerCompanyId;
        project.updatedAt = this.clock.next();
        this.touch('projects');
      }
    }
    company.status = 'deleted';
    company.updatedAt = this.clock.next();
    this.activeCompanyIdByName.delete(nameKey(company.name));
    this.touch('companies');
    this.notify('COMPANY.DELETED', 'company', companyV3(company));
  }

  /** Stores a fully built company without announcing it (seeding pre-existing data). */
  adoptCompany(company: CompanyRecord): CompanyRecord {
    this.assertCompanyNameFree(company.name);
    this.companies.set(company.id, company);
    this.activeCompanyIdByName.set(nameKey(company.name), company.id);
    this.touch('companies');
    return company;
  }

  newCompany(name: string, timestamp: string, isOwner: boolean): CompanyRecord {
    return {
      id: this.nextId('companies'),
      name,
      website: '',
      emailOne: '',
      emailTwo: '',
      emailThree: '',
      phone: '',
      addressOne: '',
      addressTwo: '',
      city: '',
      state: '',
      zip: '',
      countryCode: '',
      profileText: '',
      isOwner,
      domains: [],
      status: 'active',
      createdAt: timestamp,
      updatedAt: timestamp,
    };
  }

  private assertCompanyNameFree(name: string, exceptId?: number): void {
    const holder = this.activeCompanyIdByName.get(nameKey(name));
    if (holder !== undefined && holder !== exceptId) {
      throw new EmulatorError('conflict', `A company named "${name}" already exists`);
    }
  }

  private applyCompanyFields(company: CompanyRecord, fields: CompanyInput): void {
    const { domains, ...scalars } = fields;
    Object.assign(company, definedOnly(scalars));
    if (domains !== undefined) {
      const kept = new Map(company.domains.map((domain) => [domain.name, domain]));
      const names = [...new Set(domains.map((domain) => domain.trim().toLowerCase()).filter(Boolean))];
      company.domains = names.map((name) => kept.get(name) ?? { id: this.nextId('domains'), name });
    }
  }

  // ---- people ----------------------------------------------------------------------------

  activePerson(id: number): PersonRecord {
    const person = this.people.get(id);
    if (!person || person.deleted) throw new EmulatorError('not_found', `Person ${id} not found`);
    return person;
  }

  personIdByEmail(email: string): number | undefined {
    return this.activePersonIdByEmail.get(emailKey(email));
  }

  createPerson(input: PersonInput): PersonRecord {
    const timestamp = this.clock.next();
    const person: PersonRecord = { ...this.blankPerson(timestamp), ...definedOnly(input), id: 0 };
    if (!person.companyId && person.type !== 'contact') person.companyId = this.ownerCompanyId;
    this.validatePerson(person);
    person.id = this.nextId('people');
    this.adoptPerson(person);
    this.notify('USER.CREATED', 'user', personV3(person));
    return person;
  }

  updatePerson(id: number, patch: PersonInput): PersonRecord {
    const person = this.activePerson(id);
    const candidate: PersonRecord = { ...person, ...definedOnly(patch) };
    this.validatePerson(candidate);
    this.unindexPerson(person);
    Object.assign(person, candidate, { updatedAt: this.clock.next() });
    this.indexPerson(person);
    this.touch('people');
    this.notify('USER.UPDATED', 'user', personV3(person));
    return person;
  }

  deletePerson(id: number): void {
    const person = this.activePerson(id);
    if (id === this.siteOwnerId) throw new EmulatorError('forbidden', 'The site owner cannot be deleted');
    this.unindexPerson(person);
    person.deleted = true;
    person.updatedAt = this.clock.next();
    this.touch('people');
    this.notify('USER.DELETED', 'user', personV3(person));
  }

  /** Stores a fully built person without announcing it (seeding pre-existing data). */
  adoptPerson(person: PersonRecord): PersonRecord {
    this.validatePerson(person);
    this.people.set(person.id, person);
    this.indexPerson(person);
    this.touch('people');
    return person;
  }

  blankPerson(timestamp: string): PersonRecord {
    return {
      id: 0,
      firstName: '',
      lastName: '',
      email: '',
      title: '',
      type: 'account',
      isClientUser: false,
      isAdmin: false,
      companyId: 0,
      emailAlt1: '',
      emailAlt2: '',
      emailAlt3: '',
      avatarUrl: '',
      userTwitterName: '',
      userLinkedin: '',
      userFacebook: '',
      deleted: false,
      createdAt: timestamp,
      updatedAt: timestamp,
    };
  }

  /** Teamwork.com rules: everyone needs a first name and a unique email; contacts also need a last
   * name and a company ("mandatory name, email and company"). */
  private validatePerson(person: PersonRecord): void {
    if (!person.firstName.trim()) throw new EmulatorError('validation', 'First name is required');
    if (!EMAIL_PATTERN.test(person.email.trim())) {
      throw new EmulatorError('validation', 'A valid email address is required');
    }
    if (person.type === 'contact') {
      if (!person.lastName.trim()) throw new EmulatorError('validation', 'Last name is required for a contact');
      if (!person.companyId) throw new EmulatorError('validation', 'A company is required for a contact');
    }
    const company = this.companies.get(person.companyId);
    if (!company || company.status === 'deleted') {
      throw new EmulatorError('validation', `Company ${person.companyId} does not exist`);
    }
    const holder = this.activePersonIdByEmail.get(emailKey(person.email));
    if (holder !== undefined && holder !== person.id) {
      throw new EmulatorError('validation', `The email address ${person.email} is already in use by another user`);
    }
  }

  private indexPerson(person: PersonRecord): void {
    if (person.deleted) return;
    this.activePersonIdByEmail.set(emailKey(person.email), person.id);
    let members = this.personIdsByCompany.get(person.companyId);
    if (!members) this.personIdsByCompany.set(person.companyId, (members = new Set()));
    members.add(person.id);
  }

  private unindexPerson(person: PersonRecord): void {
    this.activePersonIdByEmail.delete(emailKey(person.email));
    this.personIdsByCompany.get(person.companyId)?.delete(person.id);
  }
}
