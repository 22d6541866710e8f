/**
 * What happens to every request to an installation before its route runs, in Teamwork.com's order:
 * find the site, log the call, authenticate the key, apply the key's rate limit, then any injected
 * fault. Also the error handler that speaks each API generation's error format.
 */
import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { EmulatorError, HTTP_STATUS_BY_KIND } from '../errors';
import type { FailRequestFault } from '../faults';
import type { Installation } from '../installation';
import type { EmulatorState } from '../state';

export const RATE_LIMIT_MESSAGE = 'You have exceeded your rate limit. Please try again in a little while.';

interface SiteLocals {
  installation: Installation;
  apiKey: string;
}

export function siteOf(res: Response): Installation {
  return (res.locals as SiteLocals).installation;
}

const isV3 = (req: Request) => req.path.startsWith('/projects/api/v3/');

/** v3 errors are `{errors:[{title, detail}]}`; v1 errors are `{MESSAGE, STATUS: "Error"}`. */
export function sendError(req: Request, res: Response, status: number, detail: string): void {
  const title = STATUS_CODES[status] ?? 'Error';
  if (isV3(req) || status === 401) res.status(status).json({ errors: [{ title, detail }] });
  else res.status(status).json({ MESSAGE: detail, STATUS: 'Error' });
}

export function resolveInstallation(state: EmulatorState): RequestHandler {
  return (req, res, next) => {
    const installation = state.installations.get(String(req.params.installation));
    if (!installation) {
      res.status(404).json({ errors: [{ title: 'Not Found', detail: `No Teamwork.com site "${req.params.installation}"` }] });
      return;
    }
    (res.locals as SiteLocals).installation = installation;
    next();
  };
}

/** Logs the request as soon as its status is decided, so a client that got its answer always
 * finds the entry (waiting for 'finish' could race with the client). */
export function logRequests(state: EmulatorState): RequestHandler {
  return (req, res, next) => {
    const entry = {
      at: new Date().toISOString(),
      installation: siteOf(res).name,
      method: req.method,
      path: req.path,
      query: { ...(req.query as Record<string, unknown>) },
    };
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => Response;
    (res as unknown as { writeHead: (...args: unknown[]) => Response }).writeHead = (...args: unknown[]) => {
      state.requestLog.record({ ...entry, status: typeof args[0] === 'number' ? args[0] : res.statusCode });
      return writeHead(...args);
    };
    next();
  };
}

function apiKeyFrom(authorization: string | undefined): string | undefined {
  const [scheme, credentials] = (authorization ?? '').trim().split(/\s+/, 2);
  if (!credentials) return undefined;
  if (scheme.toLowerCase() === 'bearer') return credentials;
  if (scheme.toLowerCase() !== 'basic') return undefined;
  // The key is the Basic user name; Teamwork.com ignores the password.
  return Buffer.from(credentials, 'base64').toString('utf8').split(':')[0] || undefined;
}

export function authenticate(state: EmulatorState): RequestHandler {
  return (req, res, next) => {
    const apiKey = apiKeyFrom(req.headers.authorization);
    if (!apiKey || state.installationByApiKey.get(apiKey) !== siteOf(res)) {
      sendError(req, res, 401, 'Invalid or missing API key');
      return;
    }
    (res.locals as SiteLocals).apiKey = apiKey;
    next();
  };
}

function sendRateLimited(res: Response): void {
  res.status(429).type('text/plain').send(RATE_LIMIT_MESSAGE);
}

export function rateLimit(state: EmulatorState): RequestHandler {
  return (_req, res, next) => {
    const decision = state.limiter.consume((res.locals as SiteLocals).apiKey);
    res.set(decision.headers);
    if (decision.allowed) next();
    else sendRateLimited(res);
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function injectFaults(state: EmulatorState): RequestHandler {
  return async (req, res, next) => {
    const { faults } = state;
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);
    if (faults.takeRateLimit429()) {
      res.set({ ...state.limiter.peek((res.locals as SiteLocals).apiKey), 'X-Rate-Limit-Remaining': '0' });
      sendRateLimited(res);
      return;
    }
    const serverErrorStatus = faults.takeServerError();
    if (serverErrorStatus !== undefined) {
      sendServerError(req, res, serverErrorStatus);
      return;
    }
    const failure = faults.takeFailRequest(req.method, req.path);
    if (!failure) return next();
    if (failure.afterCommit) {
      replaceResponse(res, failure);
      return next();
    }
    sendFailure(req, res, failure);
  };
}

/** A 500 comes from the application (JSON); 502 and 503 come from the load balancer (text). */
function sendServerError(req: Request, res: Response, status: number): void {
  if (status === 500) sendError(req, res, 500, 'Injected server error');
  else res.status(status).type('text/plain').send(STATUS_CODES[status]);
}

function sendFailure(req: Request, res: Response, failure: FailRequestFault): void {
  if (failure.body === undefined) sendError(req, res, failure.status, 'Injected failure');
  else if (typeof failure.body === 'string') res.status(failure.status).type('text/plain').send(failure.body);
  else res.status(failure.status).json(failure.body);
}

/** Lets the route commit its write, then swaps its answer for the injected one (a lost response). */
function replaceResponse(res: Response, failure: FailRequestFault): void {
  const send = res.send.bind(res);
  res.send = () => {
    res.status(failure.status);
    if (typeof failure.body === 'string') return send(failure.body);
    res.type('json');
    return send(JSON.stringify(failure.body ?? { errors: [{ title: STATUS_CODES[failure.status], detail: 'Injected failure' }] }));
  };
}

export const routeNotFound: RequestHandler = (req, res) => {
  sendError(req, res, 404, `No route for ${req.method} ${req.path}`);
};

export const handleErrors: ErrorRequestHandler = (error: unknown, req: Request, res: Response, _next: NextFunction) => {
  if (error instanceof EmulatorError) {
    sendError(req, res, HTTP_STATUS_BY_KIND[error.kind], error.message);
    return;
  }
  const bodyParserError = error as { type?: string; status?: number };
  if (bodyParserError.type === 'entity.parse.failed') {
    sendError(req, res, 400, 'The request body is not valid JSON');
    return;
  }
  if (bodyParserError.type && bodyParserError.status) {
    sendError(req, res, bodyParserError.status, String(bodyParserError.type));
    return;
  }
  console.error('[teamwork emulator] unexpected error', error);
  sendError(req, res, 500, 'Internal error');
};
