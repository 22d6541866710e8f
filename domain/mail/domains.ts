/**
 * Domain rules for excluded domains (I5) and company domain matching (I7). Domains compare
 * case-insensitively (RFC 4343) and without a trailing root dot.
 */

/** The lower-cased domain of an email address, or null when it has none. */
export function domainOf(address: string): string | null {
  const at = address.lastIndexOf('@');
  if (at < 0) {
    return null;
  }
  const domain = normaliseDomain(address.slice(at + 1));
  return domain === '' ? null : domain;
}

/**
 * I5: mail from an excluded domain or any of its subdomains is never imported. Entries are
 * accepted as admins type them: `x.com`, `@x.com`, `*.x.com`, `.x.com`, any case. Matching is
 * on whole labels, so `x.com` never excludes `notx.com`.
 */
export function isExcludedDomain(address: string, excludedDomains: readonly string[]): boolean {
  const domain = domainOf(address);
  if (domain === null) {
    return false;
  }
  return excludedDomains.some((entry) => {
    const excluded = normaliseDomain(entry.trim().replace(/^[*@.]+/, ''));
    return excluded !== '' && isSameOrSubdomain(domain, excluded);
  });
}

export interface CompanyDomains {
  id: string;
  domains: readonly string[];
}

/**
 * I7 domain matching: the company a sender's domain belongs to, or null. A plain entry (`x.com`,
 * `@x.com`) matches that domain exactly; a wildcard (`*.x.com`) matches its subdomains at any
 * depth but not `x.com` itself. An exact entry beats any wildcard, and a longer wildcard beats a
 * shorter one. When two companies tie for the best match the result is null: a customer put in
 * the wrong company would be synced to that client in Teamwork.com (C6), which is worse than none.
 */
export function companyForDomain(domain: string, companies: readonly CompanyDomains[]): string | null {
  const target = normaliseDomain(domain.trim().replace(/^@/, ''));
  if (target === '') {
    return null;
  }
  let best: { specificity: number; companyIds: Set<string> } = { specificity: -1, companyIds: new Set() };
  for (const company of companies) {
    for (const entry of company.domains) {
      const specificity = matchSpecificity(target, entry);
      if (specificity > best.specificity) {
        best = { specificity, companyIds: new Set([company.id]) };
      } else if (specificity === best.specificity && specificity >= 0) {
        best.companyIds.add(company.id);
      }
    }
  }
  const [onlyCompanyId, ...others] = best.companyIds;
  return onlyCompanyId !== undefined && others.length === 0 ? onlyCompanyId : null;
}

/** -1 for no match; otherwise larger is more specific, with any exact match above every wildcard. */
function matchSpecificity(target: string, entry: string): number {
  const trimmed = entry.trim();
  if (trimmed.startsWith('*.')) {
    const base = normaliseDomain(trimmed.slice(2));
    return base !== '' && target.endsWith(`.${base}`) ? base.length : -1;
  }
  const exact = normaliseDomain(trimmed.replace(/^@/, ''));
  return exact !== '' && exact === target ? Number.MAX_SAFE_INTEGER : -1;
}

function isSameOrSubdomain(domain: string, parent: string): boolean {
  return domain === parent || domain.endsWith(`.${parent}`);
}

function normaliseDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.+$/, '');
}
