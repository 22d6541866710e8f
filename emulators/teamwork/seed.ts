/**
 * Deterministic pre-existing data: external companies with their users and contacts. Nothing is
 * announced to webhooks, because this models what the site held before deskbridge looked at it.
 * Names derive from ids, so repeated seeds of one installation never collide.
 */
import type { Installation } from './installation';
import type { PersonRecord } from './types';

export interface SeedOptions {
  installation: string;
  companies: number;
  contactsPerCompany: number;
  /** Client users (type `account`, `isClientUser`) per company; 0 when omitted. */
  usersPerCompany?: number;
  /** First id of the seeded companies and people (ids already taken are skipped). */
  startId?: number;
}

export interface SeedResult {
  companyIds: number[];
  personIds: number[];
}

const COMPANY_WORDS = ['Northwind', 'Contoso', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Acme', 'Vandelay'];
const COMPANY_KINDS = ['Logistics', 'Labs', 'Foods', 'Media', 'Partners', 'Systems', 'Studio', 'Health'];
const FIRST_NAMES = ['Ada', 'Brian', 'Chloe', 'Dmitri', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kemi', 'Liam'];
const LAST_NAMES = ['Murphy', 'Kowalski', 'Okafor', 'Tanaka', 'Garcia', 'Byrne', 'Novak', 'Silva', 'Haddad', 'Lindqvist', 'Moreau'];

export function seedInstallation(installation: Installation, options: SeedOptions): SeedResult {
  const usersPerCompany = options.usersPerCompany ?? 0;
  if (options.startId !== undefined) {
    installation.skipIdsBelow('companies', options.startId);
    installation.skipIdsBelow('people', options.startId);
  }
  const timestampAt = installation.clock.reserve(options.companies * (1 + options.contactsPerCompany + usersPerCompany));
  let tick = 0;
  const result: SeedResult = { companyIds: [], personIds: [] };

  for (let index = 0; index < options.companies; index += 1) {
    const timestamp = timestampAt(tick++);
    const company = installation.newCompany('', timestamp, false);
    const id = company.id;
    const name = `${COMPANY_WORDS[id % COMPANY_WORDS.length]} ${COMPANY_KINDS[Math.floor(id / COMPANY_WORDS.length) % COMPANY_KINDS.length]} ${id}`;
    const domain = `${name.toLowerCase().replace(/ /g, '-')}.example.com`;
    Object.assign(company, {
      name,
      website: `https://${domain}`,
      emailOne: `info@${domain}`,
      phone: `+1 555 ${String(id).padStart(7, '0')}`,
      domains: [{ id: installation.nextId('domains'), name: domain }],
    });
    installation.adoptCompany(company);
    result.companyIds.push(id);

    const seedPerson = (fields: Partial<PersonRecord>) => {
      const person = { ...installation.blankPerson(timestampAt(tick++)), ...fields, id: installation.nextId('people') };
      const firstName = FIRST_NAMES[person.id % FIRST_NAMES.length];
      const lastName = LAST_NAMES[Math.floor(person.id / FIRST_NAMES.length) % LAST_NAMES.length];
      Object.assign(person, {
        firstName,
        lastName,
        email: `${firstName}.${lastName}.${person.id}@${domain}`.toLowerCase(),
        companyId: id,
      });
      installation.adoptPerson(person);
      result.personIds.push(person.id);
    };
    for (let user = 0; user < usersPerCompany; user += 1) seedPerson({ type: 'account', isClientUser: true, title: 'Client user' });
    for (let contact = 0; contact < options.contactsPerCompany; contact += 1) seedPerson({ type: 'contact' });
  }
  return result;
}
