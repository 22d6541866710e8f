import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

export interface ApiTarget {
  apiUrl: string;
  token?: string;
}

export interface TemporalTarget {
  address: string;
  namespace: string;
  taskQueue: string;
}

export interface Polling {
  /** Draw one frame and stop instead of following until the work ends. */
  once: boolean;
  intervalMs: number;
}

/** What `resync` can re-run; each kind names the record it takes. */
export const resyncKinds = {
  site: { argument: 'siteId', describe: "re-runs the site's initial sync (idempotent, C2)" },
} as const;
export type ResyncKind = keyof typeof resyncKinds;

export interface SignupInput {
  siteName: string;
  slug: string;
  plan?: string;
  owner: { email: string; firstName: string; lastName: string };
  teamwork?: { baseUrl: string; apiKey: string };
}

export type CliCommand =
  | { command: 'help'; text: string }
  | { command: 'signup'; api: ApiTarget; signup: SignupInput; follow: Polling | null }
  | { command: 'sync-status'; api: ApiTarget & { token: string }; polling: Polling }
  | { command: 'resync'; kind: ResyncKind; id: string; temporal: TemporalTarget; follow: Polling | null }
  | { command: 'inbox-import'; api: ApiTarget & { token: string }; inboxId: string; polling: Polling }
  | { command: 'replay'; temporal: TemporalTarget; workflowId: string; runId?: string; workflowBundle?: string };

export const usage = `deskbridge <command> [options]

Commands:
  signup --site-name <name> --slug <slug> --owner-email <email> --owner-first-name <name> --owner-last-name <name>
         [--plan <plan>] [--teamwork-url <url> --teamwork-key <key>] [--follow]
      Creates a site and its owner and prints the owner's token. With a Teamwork.com link the
      initial sync starts; --follow draws its progress.
  sync-status [--once]
      Initial sync state with live progress bars until it ends (GET /api/sync/status).
  resync [site] <siteId> [--follow]
      Re-runs a site's initial sync through Temporal; --follow draws its progress.
  inbox-import <inboxId> [--once]
      Mailbox backfill progress bar until it ends (GET /api/inboxes/:id/import).
  replay <workflowId> [--run-id <runId>] [--bundle <workflows.js>]
      Fetches the workflow's history from Temporal and replays it against the current workflow
      code: prints OK or the divergence (exit code 1).

Options (and the environment variables they default to):
  --api-url <url>                 DESKBRIDGE_API_URL           default http://127.0.0.1:3000
  --token <token>                 DESKBRIDGE_TOKEN             a user's bearer token (signup prints the owner's)
  --temporal-address <host:port>  TEMPORAL_ADDRESS             default 127.0.0.1:7233
  --namespace <name>              TEMPORAL_NAMESPACE           default default
  --task-queue <name>             TEMPORAL_TASK_QUEUE          default deskbridge
  --teamwork-key <key>            DESKBRIDGE_TEAMWORK_API_KEY
  --bundle <file>                 DESKBRIDGE_WORKFLOW_BUNDLE   prebuilt workflow bundle; else the sources are bundled
  --interval <ms>                                              polling interval, default 500
  -h, --help`;

const connectionOptions = {
  'api-url': { type: 'string' },
  token: { type: 'string' },
  'temporal-address': { type: 'string' },
  namespace: { type: 'string' },
  'task-queue': { type: 'string' },
  interval: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const commandOptions = {
  signup: {
    'site-name': { type: 'string' },
    slug: { type: 'string' },
    plan: { type: 'string' },
    'owner-email': { type: 'string' },
    'owner-first-name': { type: 'string' },
    'owner-last-name': { type: 'string' },
    'teamwork-url': { type: 'string' },
    'teamwork-key': { type: 'string' },
    follow: { type: 'boolean' },
  },
  'sync-status': { once: { type: 'boolean' } },
  resync: { follow: { type: 'boolean' } },
  'inbox-import': { once: { type: 'boolean' } },
  replay: { 'run-id': { type: 'string' }, bundle: { type: 'string' } },
} as const satisfies Record<string, ParseArgsConfig['options']>;

type CommandName = keyof typeof commandOptions;
const isCommand = (name: string | undefined): name is CommandName => name !== undefined && Object.hasOwn(commandOptions, name);

/** Parses `argv` (without node and the script) with defaults from `env`; throws UsageError. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv = process.env): CliCommand {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') return { command: 'help', text: usage };
  if (!isCommand(name)) throw new UsageError(`unknown command "${name}"`);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...connectionOptions, ...commandOptions[name] }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const positionals = parsed.positionals;
  if (values.help) return { command: 'help', text: usage };
  const text = (key: string) => (typeof values[key] === 'string' ? (values[key] as string) : undefined);
  const flag = (key: string) => values[key] === true;

  const intervalMs = Number(text('interval') ?? 500);
  if (!Number.isInteger(intervalMs) || intervalMs < 50) throw new UsageError('--interval must be a whole number of milliseconds, at least 50');
  const apiUrl = text('api-url') ?? env.DESKBRIDGE_API_URL ?? 'http://127.0.0.1:3000';
  if (!/^https?:\/\/[^/]/.test(apiUrl)) throw new UsageError(`--api-url must be an http(s) URL, got "${apiUrl}"`);
  const api: ApiTarget = { apiUrl: apiUrl.replace(/\/+$/, ''), token: text('token') ?? env.DESKBRIDGE_TOKEN };
  const withToken = () => {
    if (!api.token) throw new UsageError(`${name} needs a user's token: --token or DESKBRIDGE_TOKEN`);
    return { ...api, token: api.token };
  };
  const temporal: TemporalTarget = {
    address: text('temporal-address') ?? env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: text('namespace') ?? env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: text('task-queue') ?? env.TEMPORAL_TASK_QUEUE ?? 'deskbridge',
  };
  const positional = (count: number, what: string) => {
    if (positionals.length !== count) throw new UsageError(`${name} takes ${what}, got ${positionals.length === 0 ? 'nothing' : positionals.join(' ')}`);
    return positionals;
  };

  switch (name) {
    case 'signup': {
      positional(0, 'only options');
      const required = (key: string) => {
        const value = text(key);
        if (!value) throw new UsageError(`signup needs --${key}`);
        return value;
      };
      const teamworkUrl = text('teamwork-url');
      const teamworkKey = text('teamwork-key') ?? env.DESKBRIDGE_TEAMWORK_API_KEY;
      if (Boolean(teamworkUrl) !== Boolean(teamworkKey)) throw new UsageError('a Teamwork.com link needs both --teamwork-url and --teamwork-key (or DESKBRIDGE_TEAMWORK_API_KEY)');
      return {
        command: 'signup',
        api,
        signup: {
          siteName: required('site-name'),
          slug: required('slug'),
          plan: text('plan'),
          owner: { email: required('owner-email'), firstName: required('owner-first-name'), lastName: required('owner-last-name') },
          teamwork: teamworkUrl && teamworkKey ? { baseUrl: teamworkUrl, apiKey: teamworkKey } : undefined,
        },
        follow: flag('follow') ? { once: false, intervalMs } : null,
      };
    }
    case 'sync-status':
      positional(0, 'only options');
      return { command: 'sync-status', api: withToken(), polling: { once: flag('once'), intervalMs } };
    case 'inbox-import': {
      const [inboxId] = positional(1, 'one inbox id');
      return { command: 'inbox-import', api: withToken(), inboxId: inboxId!, polling: { once: flag('once'), intervalMs } };
    }
    case 'resync': {
      // `resync <siteId>` is short for `resync site <siteId>`; other kinds name themselves.
      const named = positionals[0] !== undefined && Object.hasOwn(resyncKinds, positionals[0]);
      const kind = (named ? positionals[0] : 'site') as ResyncKind;
      const id = named
        ? positional(2, `${kind} <${resyncKinds[kind].argument}>`)[1]!
        : positional(1, `[site] <siteId> (kinds: ${Object.keys(resyncKinds).join(', ')})`)[0]!;
      if (kind === 'site' && !/^[0-9a-f]{24}$/i.test(id)) throw new UsageError(`"${id}" is not a site id (24 hexadecimal characters)`);
      return { command: 'resync', kind, id, temporal, follow: flag('follow') ? { once: false, intervalMs } : null };
    }
    case 'replay': {
      const [workflowId] = positional(1, 'one workflow id');
      return { command: 'replay', temporal, workflowId: workflowId!, runId: text('run-id'), workflowBundle: text('bundle') ?? env.DESKBRIDGE_WORKFLOW_BUNDLE };
    }
  }
}
