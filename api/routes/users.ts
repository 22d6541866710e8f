import { z } from 'zod';
import { UserModel, emailKeyOf, siteKey } from '../../models';
import { hashToken, newToken } from '../../lib/secrets';
import { isDuplicateKey } from '../../activities/failures';
import { problems } from '../problem';
import type { RouteTable } from '../routing';
import { errorResponses, userViewSchema } from '../schemas';
import { userView } from '../views';
import type { AppDeps } from '../deps';

export const inviteUserSchema = z.strictObject({
  email: z.email().max(254),
  firstName: z.string().trim().min(1).max(100),
  lastName: z.string().trim().min(1).max(100),
  // A site has one owner: the one who signed it up.
  role: z.enum(['admin', 'agent']),
});

/** The site's users; owners and admins invite more (the token is shown once, stored hashed). */
export function addUserRoutes(routes: RouteTable, _deps: AppDeps): void {
  routes.add({
    method: 'get', path: '/api/users', tag: 'users', auth: 'user', summary: "List the site's users",
    responses: { 200: { description: 'Users', schema: z.object({ items: z.array(userViewSchema) }) }, 401: errorResponses[401] },
  }, async ({ actor, res }) => {
    const users = await UserModel.find({ siteId: actor.siteId }).sort({ _id: 1 }).lean();
    res.json({ items: users.map(userView) });
  });

  routes.add({
    method: 'post', path: '/api/users', tag: 'users', auth: 'user', summary: 'Invite a user with a role (owner and admins)',
    body: inviteUserSchema,
    responses: {
      201: { description: 'Invited; the token is shown only now', schema: userViewSchema.extend({ token: z.string() }) },
      400: errorResponses[400], 401: errorResponses[401], 403: { ...errorResponses[400], description: 'Agents cannot invite' }, 409: { ...errorResponses[400], description: 'Email taken' },
    },
  }, async ({ actor, body, res }) => {
    if (actor.role === 'agent') throw problems.forbidden('only the owner and admins invite users');
    const token = newToken('dbk');
    try {
      const user = await UserModel.create({ siteId: actor.siteId, email: body.email, emailKey: siteKey(actor.siteId, emailKeyOf(body.email)), firstName: body.firstName, lastName: body.lastName, role: body.role, tokenHash: hashToken(token) });
      res.status(201).json({ ...userView(user.toObject()), token });
    } catch (err) {
      if (isDuplicateKey(err)) throw problems.conflict('a user with this email already exists');
      throw err;
    }
  });
}
