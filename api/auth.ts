import type { Request, RequestHandler } from 'express';
import { UserModel, type Role } from '../models';
import { hashToken } from '../lib/secrets';
import { problems } from './problem';
import type { AppDeps } from './deps';

export interface Actor {
  userId: string;
  siteId: string;
  role: Role;
}

const actors = new WeakMap<Request, Actor>();

/** Every /api route after signup needs a user's bearer token; its site scopes all reads and writes. */
export function authenticate(_deps: Pick<AppDeps, 'logger'>): RequestHandler {
  return async (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return next(problems.unauthorized());
    const user = await UserModel.findOne({ tokenHash: hashToken(match[1]!) }, { siteId: 1, role: 1 }).lean();
    if (!user) return next(problems.unauthorized());
    actors.set(req, { userId: String(user._id), siteId: String(user.siteId), role: user.role as Role });
    next();
  };
}

export function actorOf(req: Request): Actor {
  const actor = actors.get(req);
  if (!actor) throw problems.unauthorized();
  return actor;
}
