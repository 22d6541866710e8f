import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { ZodError } from 'zod';

/**
 * RFC 9457 problem details. Every error the API answers is one of these, with a stable `type`
 * that clients and tests match on instead of message text.
 */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
  }
}

export const problems = {
  validation: (detail: string, errors: unknown[] = []) => new Problem(400, 'validation-error', 'Request is invalid', detail, { errors }),
  unauthorized: () => new Problem(401, 'unauthorized', 'Authentication required'),
  forbidden: (detail: string) => new Problem(403, 'forbidden', 'Not allowed', detail),
  notFound: (what = 'Resource') => new Problem(404, 'not-found', `${what} not found`),
  conflict: (detail: string, extra: Record<string, unknown> = {}) => new Problem(409, 'conflict', 'Conflict', detail, extra),
  unprocessable: (detail: string, extra: Record<string, unknown> = {}) => new Problem(422, 'unprocessable', 'Request cannot be processed', detail, extra),
  unavailable: (detail: string, extra: Record<string, unknown> = {}) => new Problem(503, 'unavailable', 'Service unavailable', detail, extra),
};

export function sendProblem(res: Response, problem: Problem, instance?: string): void {
  res
    .status(problem.status)
    .type('application/problem+json')
    .json({ type: `https://deskbridge.dev/problems/${problem.type}`, title: problem.title, status: problem.status, detail: problem.detail, instance, ...problem.extra });
}

export function fromZod(error: ZodError): Problem {
  const errors = error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message, code: issue.code }));
  return problems.validation(errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; '), errors);
}

export const notFoundHandler: RequestHandler = (req, res) => sendProblem(res, problems.notFound('Route'), req.originalUrl);

export function createErrorHandler(log: { error: (obj: object, msg: string) => void }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) return;
    if (err instanceof Problem) return sendProblem(res, err, req.originalUrl);
    if (err instanceof ZodError) return sendProblem(res, fromZod(err), req.originalUrl);
    // body-parser errors: malformed JSON, wrong content type, too large
    const status = typeof err?.status === 'number' ? err.status : typeof err?.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      return sendProblem(res, new Problem(status, err.type === 'entity.too.large' ? 'payload-too-large' : 'bad-request', 'Bad request', String(err.message ?? 'bad request')), req.originalUrl);
    }
    log.error({ err, path: req.path, method: req.method }, 'unhandled error');
    sendProblem(res, new Problem(500, 'internal', 'Internal error', 'The request could not be completed'), req.originalUrl);
  };
}
