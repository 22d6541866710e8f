import { CompanyModel, domainOfEmail } from '../../models';
import { companyForDomain } from '../../domain/mail';

/**
 * Domain matching: the company that owns the address's domain, either exactly or through a
 * wildcard such as `*.example.com` (one company per domain). Used for customers added by hand
 * and for customers created from tickets (C9, I7).
 */
export async function companyForEmail(siteId: string, email: string): Promise<string | null> {
  const domain = domainOfEmail(email);
  if (!domain) return null;
  const labels = domain.split('.');
  const candidates = [domain, ...labels.slice(1, -1).map((_, i) => `*.${labels.slice(i + 1).join('.')}`)];
  const companies = await CompanyModel.find({ siteId, domains: { $in: candidates } }, { domains: 1 }).lean();
  return companyForDomain(domain, companies.map((c) => ({ id: String(c._id), domains: c.domains ?? [] })));
}
