/** v3 companies: list, get, create (201), update (200), delete (204, cascading to its people). */
import { Router, type Request } from 'express';
import { parseInput, v3CompanyBodySchema } from '../inputs';
import type { Installation } from '../installation';
import { paginate, parsePageRequest, queryFlag, queryString, queryTimestamp, type Ordering } from '../listing';
import type { EmulatorState } from '../state';
import type { CompanyRecord } from '../types';
import { companyV3, includedCompanyDomains } from '../wire';
import { recordId } from './params';
import { siteOf } from './site-middleware';

const companyOrdering: Ordering<CompanyRecord> = {
  defaultKey: 'ownercompany',
  keys: {
    // The owner company first, then by name: Teamwork.com's default order.
    ownercompany: (company) => `${company.isOwner ? 0 : 1}${company.name.toLowerCase()}`,
    id: (company) => company.id,
    name: (company) => company.name.toLowerCase(),
    updatedat: (company) => company.updatedAt,
    dateadded: (company) => company.createdAt,
    createdat: (company) => company.createdAt,
    website: (company) => company.website.toLowerCase(),
    email: (company) => company.emailOne.toLowerCase(),
  },
};

function listCompanies(installation: Installation, query: Request['query']): CompanyRecord[] {
  const showDeleted = queryFlag(query, 'showDeleted');
  const updatedAfter = queryTimestamp(query, 'updatedAfter');
  const createdAfter = queryTimestamp(query, 'createdAfter');
  const searchTerm = queryString(query, 'searchTerm')?.toLowerCase();
  const sorted = installation.sortedViews.sorted(
    'companies',
    installation.revisions.companies,
    installation.companies.values(),
    companyOrdering,
    query,
  );
  return sorted.filter(
    (company) =>
      (showDeleted || company.status === 'active') &&
      (updatedAfter === undefined || company.updatedAt > updatedAfter) &&
      (createdAfter === undefined || company.createdAt > createdAfter) &&
      (searchTerm === undefined || company.name.toLowerCase().includes(searchTerm)),
  );
}

export function companyRoutes(state: EmulatorState): Router {
  const router = Router();
  const base = '/projects/api/v3/companies';

  router.get(`${base}.json`, (req, res) => {
    const page = paginate(listCompanies(siteOf(res), req.query), parsePageRequest(req.query, state.maxPageSize));
    res.json({ companies: page.items.map(companyV3), meta: page.meta, included: includedCompanyDomains(page.items) });
  });

  router.get(`${base}/:id.json`, (req, res) => {
    const company = siteOf(res).activeCompany(recordId(req));
    res.json({ company: companyV3(company), included: includedCompanyDomains([company]) });
  });

  router.post(`${base}.json`, (req, res) => {
    const { company: input } = parseInput(v3CompanyBodySchema, req.body);
    const company = siteOf(res).createCompany(input);
    res.status(201).json({ company: companyV3(company), included: includedCompanyDomains([company]) });
  });

  router.patch(`${base}/:id.json`, (req, res) => {
    const installation = siteOf(res);
    const id = recordId(req);
    installation.activeCompany(id);
    const { company: patch } = parseInput(v3CompanyBodySchema, req.body);
    const company = installation.updateCompany(id, patch);
    res.json({ company: companyV3(company), included: includedCompanyDomains([company]) });
  });

  router.delete(`${base}/:id.json`, (req, res) => {
    siteOf(res).deleteCompany(recordId(req));
    res.status(204).send();
  });

  return router;
}
