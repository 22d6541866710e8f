import { z } from 'zod';
import { SiteModel, UserModel, emailKeyOf, plans, siteKey } from '../../models';
import { newToken, hashToken } from '../../lib/secrets';
import { TeamworkError, TeamworkFailure } from '../../activities/teamwork/errors';
import { isDuplicateKey } from '../../activities/failures';
import { Problem, problems } from '../problem';
import type { AppDeps } from '../deps';
import type { RouteTable } from '../routing';
import { errorResponses } from '../schemas';
import { startInitialSync } from '../start-workflows';

export const teamworkLinkSchema = z.strictObject({
  baseUrl: z.url({ protocol: /^https?$/ }).max(300),
  apiKey: z.string().min(1).max(500),
});

export const signupSchema = z.strictObject({
  siteName: z.string().trim().min(1).max(100),
  slug: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'lower-case letters, digits and inner hyphens, at most 63'),
  plan: z.enum(plans).default('free'),
  owner: z.strictObject({
    email: z.email().max(254),
    firstName: z.string().trim().min(1).max(100),
    lastName: z.string().trim().min(1).max(100),
  }),
  teamwork: teamworkLinkSchema.optional(),
});

/**
 * POST /api/signup (C1): creates the site and its owner, links Teamwork.com when given, and
 * starts the initial sync. The link's credentials are checked first so a bad key writes nothing.
 */
export const signupResponseSchema = z.object({
  site: z.object({ id: z.string(), name: z.string(), slug: z.string(), plan: z.enum(plans), linked: z.boolean() }),
  owner: z.object({ id: z.string(), email: z.string(), role: z.literal('owner'), token: z.string() }),
  workflowId: z.string().nullable(),
});

export function addSignupRoutes(routes: RouteTable, deps: AppDeps): void {
  routes.add({
    method: 'post', path: '/api/signup', tag: 'sites', auth: 'none',
    summary: 'Create a site and its owner; with a Teamwork.com link, start the initial sync (C1)',
    body: signupSchema,
    responses: {
      202: { description: 'Site created; initial sync started', schema: signupResponseSchema },
      400: errorResponses[400],
      409: { ...errorResponses[400], description: 'Slug taken' },
      422: { ...errorResponses[400], description: 'Teamwork.com refused the link' },
      502: { ...errorResponses[400], description: 'Teamwork.com did not answer' },
      503: { ...errorResponses[400], description: 'Temporal unavailable; nothing created' },
    },
  }, async ({ body, res }) => {
    if (body.teamwork) await verifyTeamworkLink(deps, body.teamwork);

    let site;
    try {
      site = await SiteModel.create({
        name: body.siteName,
        slug: body.slug,
        plan: body.plan,
        teamwork: body.teamwork && sealTeamworkLink(deps, body.teamwork),
      });
    } catch (err) {
      if (isDuplicateKey(err)) throw problems.conflict(`a site with slug "${body.slug}" already exists`, { reason: 'site-exists' });
      throw err;
    }
    const token = newToken('dbk');
    const siteId = String(site._id);
    let workflowId: string | null = null;
    try {
      const owner = await UserModel.create({
        siteId: site._id,
        email: body.owner.email,
        emailKey: siteKey(siteId, emailKeyOf(body.owner.email)),
        firstName: body.owner.firstName,
        lastName: body.owner.lastName,
        role: 'owner',
        tokenHash: hashToken(token),
      });
      if (body.teamwork) workflowId = await startInitialSync(deps, siteId);
      res.status(202).location('/api/sync/status').json({
        site: { id: siteId, name: site.name, slug: site.slug, plan: site.plan, linked: Boolean(body.teamwork) },
        owner: { id: String(owner._id), email: owner.email, role: owner.role, token },
        workflowId,
      });
    } catch (err) {
      // No half-made sites: without its owner or its sync the signup did not happen.
      await Promise.all([UserModel.deleteMany({ siteId: site._id }), SiteModel.deleteOne({ _id: site._id })]);
      if (err instanceof Problem) throw err;
      deps.logger.error({ err, siteId }, 'signup could not start the initial sync');
      throw problems.unavailable('the initial sync could not be started; nothing was created, try again');
    }
  });
}

/**
 * The stored form of a verified Teamwork.com link (C1, C16): the API key sealed, and a fresh
 * webhook token (sealed) that the initial sync registers the site's webhooks with.
 */
export function sealTeamworkLink(deps: Pick<AppDeps, 'secrets'>, link: z.infer<typeof teamworkLinkSchema>) {
  return {
    baseUrl: link.baseUrl.replace(/\/+$/, ''),
    apiKey: deps.secrets.seal(link.apiKey),
    webhookToken: deps.secrets.seal(newToken('whk')),
    linkedAt: new Date(),
  };
}

export async function verifyTeamworkLink(deps: AppDeps, link: z.infer<typeof teamworkLinkSchema>): Promise<void> {
  try {
    await deps.teamwork.forSite({ baseUrl: link.baseUrl.replace(/\/+$/, ''), apiKey: link.apiKey }).listCompanies({ page: 1, pageSize: 1 });
  } catch (err) {
    if (err instanceof TeamworkError && err.type === TeamworkFailure.authRejected) {
      throw new Problem(422, 'teamwork-credentials-rejected', 'Teamwork.com refused the credentials', 'the API key was not accepted by the Teamwork.com site');
    }
    if (err instanceof TeamworkError && (err.type === TeamworkFailure.notFound || err.type === TeamworkFailure.invalidResponse)) {
      throw new Problem(422, 'teamwork-site-invalid', 'Not a Teamwork.com site', `the base URL did not answer like a Teamwork.com site: ${err.message}`);
    }
    throw new Problem(502, 'teamwork-unreachable', 'Teamwork.com did not answer', err instanceof Error ? err.message : String(err));
  }
}
