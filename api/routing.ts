import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import { actorOf, type Actor } from './auth';
import { parse } from './validation';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Who may call a route: `none` (signup, health), `user` (a bearer token of the site), or a
 * provider (`webhook`: signed by Teamwork.com, Google or Microsoft; `oauth`: a consent callback).
 */
export type RouteAuth = 'none' | 'user' | 'webhook' | 'oauth';

export interface RouteSpec<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType, H extends z.ZodType = z.ZodType> {
  method: HttpMethod;
  /** Full path as mounted, Express style (`/api/companies/:id`). */
  path: string;
  summary: string;
  tag: string;
  auth: RouteAuth;
  params?: P;
  query?: Q;
  body?: B;
  /** Request headers the route reads, by lower-case name (an object schema that lets others through). */
  headers?: H;
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
}

export interface RouteContext<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, H extends z.ZodType = z.ZodType> {
  req: Request;
  res: Response;
  params: z.infer<P>;
  query: z.infer<Q>;
  body: z.infer<B>;
  headers: z.infer<H>;
  /** The authenticated user; only for `auth: 'user'` routes. */
  actor: Actor;
}

/**
 * The API's single list of routes: every route is declared here with its schemas, so requests
 * are validated the same way everywhere, the OpenAPI document is generated from it, and the
 * authorization matrix test enumerates it (a route missing from it cannot be mounted).
 */
export class RouteTable {
  readonly routes: RouteSpec[] = [];
  readonly router = Router();

  constructor(private readonly authenticate: RequestHandler) {}

  add<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, H extends z.ZodType = z.ZodType>(
    spec: RouteSpec<P, Q, B, H>,
    handler: (ctx: RouteContext<P, Q, B, H>) => Promise<void> | void,
  ): void {
    this.routes.push(spec as unknown as RouteSpec);
    const guards: RequestHandler[] = spec.auth === 'user' ? [this.authenticate] : [];
    this.router[spec.method](spec.path, ...guards, async (req: Request, res: Response) => {
      const params = spec.params ? parse(spec.params, req.params) : req.params;
      const query = spec.query ? parse(spec.query, req.query) : req.query;
      const body = spec.body ? parse(spec.body, req.body) : undefined;
      const headers = spec.headers ? parse(spec.headers, req.headers) : req.headers;
      const actor = spec.auth === 'user' ? actorOf(req) : (undefined as unknown as Actor);
      await handler({ req, res, params, query, body, headers, actor } as RouteContext<P, Q, B, H>);
    });
  }
}
