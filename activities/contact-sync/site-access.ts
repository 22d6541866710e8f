import { ApplicationFailure } from '@temporalio/common';
import { SiteModel } from '../../models';
import type { SecretBox } from '../../lib/secrets';
import type { TeamworkClient, TeamworkClientFactory } from '../teamwork/client';

export const SiteFailure = { missing: 'SiteMissing', notLinked: 'SiteNotLinked' } as const;

/** Loads a site's Teamwork.com link with its API key decrypted for this call only. */
export async function teamworkClientForSite(siteId: string, secrets: SecretBox, factory: TeamworkClientFactory): Promise<{ client: TeamworkClient; ownerCompanyId?: number }> {
  const site = await SiteModel.findById(siteId).select('+teamwork.apiKey').lean();
  if (!site) throw ApplicationFailure.create({ type: SiteFailure.missing, message: `site ${siteId} does not exist`, nonRetryable: true });
  if (!site.teamwork?.apiKey) throw ApplicationFailure.create({ type: SiteFailure.notLinked, message: `site ${siteId} has no Teamwork.com link`, nonRetryable: true });
  const apiKey = secrets.open(site.teamwork.apiKey as never);
  return { client: factory.forSite({ baseUrl: site.teamwork.baseUrl, apiKey }), ownerCompanyId: site.teamwork.ownerCompanyId ?? undefined };
}
