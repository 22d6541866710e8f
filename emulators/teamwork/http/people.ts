/** People: v3 reads (camelCase) and the v1 writes Teamwork.com still uses for people (hyphenated
 * keys, string ids, `STATUS` in the body). */
import { Router, type Request } from 'express';
import { EmulatorError } from '../errors';
import { parseInput, v1PersonBodySchema } from '../inputs';
import type { Installation } from '../installation';
import {
  paginate,
  parsePageRequest,
  queryFlag,
  queryIds,
  queryList,
  queryString,
  queryTimestamp,
  type Ordering,
} from '../listing';
import type { EmulatorState } from '../state';
import { USER_TYPES, type PersonRecord, type UserType } from '../types';
import { personV1, personV3 } from '../wire';
import { recordId } from './params';
import { siteOf } from './site-middleware';

const fullName = (person: PersonRecord) => `${person.firstName} ${person.lastName}`.toLowerCase();

const personOrdering: Ordering<PersonRecord> = {
  defaultKey: 'name',
  keys: {
    name: fullName,
    namecaseinsensitive: fullName,
    firstname: (person) => person.firstName.toLowerCase(),
    lastname: (person) => person.lastName.toLowerCase(),
    id: (person) => person.id,
    email: (person) => person.email.toLowerCase(),
    company: (person) => person.companyId,
    updatedat: (person) => person.updatedAt,
    dateadded: (person) => person.createdAt,
    createdat: (person) => person.createdAt,
  },
};

function userTypesOf(query: Request['query']): Set<UserType> | undefined {
  const values = queryList(query, 'userType');
  if (!values) return undefined;
  const unknown = values.filter((value) => !USER_TYPES.includes(value as UserType));
  if (unknown.length) throw new EmulatorError('bad_request', `userType must be among ${USER_TYPES.join(', ')}`);
  return new Set(values as UserType[]);
}

function listPeople(installation: Installation, query: Request['query']): PersonRecord[] {
  const userTypes = userTypesOf(query);
  const companyIds = queryIds(query, 'companyIds');
  const updatedAfter = queryTimestamp(query, 'updatedAfter');
  const showDeleted = queryFlag(query, 'showDeleted');
  const searchTerm = queryString(query, 'searchTerm')?.toLowerCase();
  const sorted = installation.sortedViews.sorted(
    'people',
    installation.revisions.people,
    installation.people.values(),
    personOrdering,
    query,
  );
  return sorted.filter(
    (person) =>
      (showDeleted || !person.deleted) &&
      (userTypes === undefined || userTypes.has(person.type)) &&
      (companyIds === undefined || companyIds.has(person.companyId)) &&
      (updatedAfter === undefined || person.updatedAt > updatedAfter) &&
      (searchTerm === undefined ||
        fullName(person).includes(searchTerm) ||
        person.email.toLowerCase().includes(searchTerm)),
  );
}

export function peopleRoutes(state: EmulatorState): Router {
  const router = Router();

  router.get('/projects/api/v3/people.json', (req, res) => {
    const page = paginate(listPeople(siteOf(res), req.query), parsePageRequest(req.query, state.maxPageSize));
    res.json({ people: page.items.map(personV3), meta: page.meta, included: {} });
  });

  router.get('/projects/api/v3/people/:id.json', (req, res) => {
    res.json({ person: personV3(siteOf(res).activePerson(recordId(req))) });
  });

  router.get('/projects/api/v3/me.json', (_req, res) => {
    res.json({ person: personV3(siteOf(res).siteOwner) });
  });

  router.get('/people/:id.json', (req, res) => {
    const installation = siteOf(res);
    const person = installation.activePerson(recordId(req));
    res.json({ person: personV1(person, installation.companies.get(person.companyId)?.name ?? ''), STATUS: 'OK' });
  });

  router.post('/people.json', (req, res) => {
    const { person: input } = parseInput(v1PersonBodySchema, req.body);
    const person = siteOf(res).createPerson(input);
    res.status(201).json({ id: String(person.id), STATUS: 'OK' });
  });

  router.put('/people/:id.json', (req, res) => {
    const installation = siteOf(res);
    const id = recordId(req);
    installation.activePerson(id);
    const { person: patch } = parseInput(v1PersonBodySchema, req.body);
    installation.updatePerson(id, patch);
    res.json({ STATUS: 'OK' });
  });

  router.delete('/people/:id.json', (req, res) => {
    siteOf(res).deletePerson(recordId(req));
    res.json({ STATUS: 'OK' });
  });

  return router;
}
