/**
 * The control surface over HTTP, for a CLI or a parent process: `POST /_emulator/{method}` with the
 * method's argument object as JSON body; argument-less reads also answer `GET`, taking their
 * (optional) argument from the query string. Not authenticated, not rate limited, not logged.
 */
import express, { Router, type ErrorRequestHandler, type Request } from 'express';
import { EmulatorError, HTTP_STATUS_BY_KIND } from '../errors';
import type { TeamworkControl } from '../control';

const CONTROL_METHODS = [
  'createInstallation',
  'listInstallations',
  'addApiKey',
  'reset',
  'seed',
  'createCompany',
  'updateCompany',
  'deleteCompany',
  'createPerson',
  'updatePerson',
  'deletePerson',
  'createProject',
  'createTasklist',
  'createTask',
  'updateTask',
  'completeTask',
  'deleteTask',
  'getCompany',
  'listCompanies',
  'getPerson',
  'listPeople',
  'listTasks',
  'listWebhooks',
  'injectFaults',
  'clearFaults',
  'setRateLimit',
  'requestLog',
  'clearRequestLog',
  'requestCounts',
  'deliveries',
  'clearDeliveries',
  'webhooksSettled',
] as const satisfies readonly (keyof TeamworkControl)[];
type ControlMethod = (typeof CONTROL_METHODS)[number];

const READ_METHODS: ReadonlySet<ControlMethod> = new Set([
  'listInstallations',
  'getCompany',
  'listCompanies',
  'getPerson',
  'listPeople',
  'listTasks',
  'listWebhooks',
  'requestLog',
  'requestCounts',
  'deliveries',
]);

/** Query strings carry text only; record ids are numbers in the control vocabulary. */
const NUMERIC_QUERY_KEYS = new Set(['id', 'companyId']);

function argumentsFromQuery(req: Request): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(req.query).map(([key, value]) => [key, NUMERIC_QUERY_KEYS.has(key) ? Number(value) : value]),
  );
}

function controlMethod(name: string): ControlMethod {
  if (!(CONTROL_METHODS as readonly string[]).includes(name)) {
    throw new EmulatorError('not_found', `Unknown control method "${name}"; known: ${CONTROL_METHODS.join(', ')}`);
  }
  return name as ControlMethod;
}

const handleControlErrors: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
  if (error instanceof EmulatorError) {
    res.status(HTTP_STATUS_BY_KIND[error.kind]).json({ error: { kind: error.kind, message: error.message } });
    return;
  }
  const bodyParserError = error as { type?: string };
  if (bodyParserError.type === 'entity.parse.failed') {
    res.status(400).json({ error: { kind: 'bad_request', message: 'The request body is not valid JSON' } });
    return;
  }
  console.error('[teamwork emulator] control error', error);
  res.status(500).json({ error: { kind: 'internal', message: String(error) } });
};

export function controlRouter(control: TeamworkControl): Router {
  const router = Router();
  const invoke = async (name: ControlMethod, args: unknown) =>
    (control[name] as (args: unknown) => unknown).call(control, args ?? {});

  router.get('/', (_req, res) => {
    res.json({ methods: CONTROL_METHODS, readMethods: [...READ_METHODS] });
  });

  router.get('/:method', async (req, res) => {
    const name = controlMethod(req.params.method);
    if (!READ_METHODS.has(name)) throw new EmulatorError('bad_request', `${name} changes state: use POST`);
    res.json(await invoke(name, argumentsFromQuery(req)));
  });

  router.post('/:method', express.json({ limit: '5mb' }), async (req, res) => {
    const result = await invoke(controlMethod(req.params.method), req.body);
    if (result === undefined) res.status(204).send();
    else res.json(result);
  });

  router.use(handleControlErrors);
  return router;
}
