import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseCli, UsageError, type CliCommand } from '../../cli/args';
import { inboxImportFrame, type InboxImportSnapshot } from '../../cli/commands/inbox-import';
import { syncFrame } from '../../cli/commands/sync-status';
import { CliError, type CliIo } from '../../cli/io';
import { main, runCommand } from '../../cli/main';
import { LiveDisplay, renderBar } from '../../cli/progress';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import { CompanyModel } from '../../models';
import { startTestSystem, type TestSystem } from '../support/system';
import { ownerFor } from '../support/sites';

function recordingIo(isTTY = false) {
  const written = { out: '', err: '' };
  const io: CliIo = {
    stdout: { write: (chunk: string) => (written.out += chunk), isTTY },
    stderr: { write: (chunk: string) => (written.err += chunk) },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
  return { io, written };
}

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseCli(argv, env);
const usageErrorOf = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    parseCli(argv, env);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error(`${argv.join(' ')} parsed without a usage error`);
};

describe('deskbridge command line: parsing and drawing', () => {
  test('O2 When the command line is parsed, Then flags win over the environment, defaults fill the rest and resync takes an optional record kind', () => {
    const env = { DESKBRIDGE_API_URL: 'http://desk.example.com:8080/', DESKBRIDGE_TOKEN: 'dbk_env', TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'prod' };
    expect(parse(['sync-status'], env)).toEqual({ command: 'sync-status', api: { apiUrl: 'http://desk.example.com:8080', token: 'dbk_env' }, polling: { once: false, intervalMs: 500 } });
    expect(parse(['sync-status', '--token', 'dbk_flag', '--api-url', 'http://127.0.0.1:9', '--once', '--interval', '100'], env)).toMatchObject({
      api: { apiUrl: 'http://127.0.0.1:9', token: 'dbk_flag' }, polling: { once: true, intervalMs: 100 },
    });
    const siteId = '6b026008f1c407dcfbe20347';
    const resync: CliCommand = { command: 'resync', kind: 'site', id: siteId, temporal: { address: 'temporal:7233', namespace: 'prod', taskQueue: 'deskbridge' }, follow: null };
    expect(parse(['resync', siteId], env)).toEqual(resync);
    expect(parse(['resync', 'site', siteId], env)).toEqual(resync);
    expect(parse(['resync', siteId, '--follow', '--task-queue', 'q2'], env)).toMatchObject({ temporal: { taskQueue: 'q2' }, follow: { once: false, intervalMs: 500 } });
    expect(parse(['inbox-import', 'inbox1', '--token', 't'])).toMatchObject({ command: 'inbox-import', inboxId: 'inbox1', api: { apiUrl: 'http://127.0.0.1:3000', token: 't' } });
    expect(parse(['replay', 'initial-sync/abc', '--run-id', 'r1'], { DESKBRIDGE_WORKFLOW_BUNDLE: '/tmp/b.js' })).toEqual({
      command: 'replay', workflowId: 'initial-sync/abc', runId: 'r1', workflowBundle: '/tmp/b.js', temporal: { address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'deskbridge' },
    });
    expect(parse(['signup', '--site-name', 'Acme', '--slug', 'acme', '--owner-email', 'o@acme.example', '--owner-first-name', 'O', '--owner-last-name', 'W', '--teamwork-url', 'https://acme.teamwork.com'], { DESKBRIDGE_TEAMWORK_API_KEY: 'twkey' })).toMatchObject({
      command: 'signup', signup: { siteName: 'Acme', slug: 'acme', owner: { email: 'o@acme.example', firstName: 'O', lastName: 'W' }, teamwork: { baseUrl: 'https://acme.teamwork.com', apiKey: 'twkey' } }, follow: null,
    });
    expect(parse([])).toMatchObject({ command: 'help' });
    expect(parse(['replay', '--help'])).toMatchObject({ command: 'help' });
  });

  test('O2 When the command line is wrong, Then it is a usage error that says what is wrong', () => {
    expect(usageErrorOf(['sync'])).toMatch(/unknown command "sync"/);
    expect(usageErrorOf(['sync-status'])).toMatch(/token/);
    expect(usageErrorOf(['sync-status', '--token', 't', '--verbose'])).toMatch(/verbose/);
    expect(usageErrorOf(['sync-status', '--token', 't', '--interval', 'soon'])).toMatch(/--interval/);
    expect(usageErrorOf(['sync-status', '--token', 't', '--api-url', 'desk.example.com'])).toMatch(/--api-url/);
    expect(usageErrorOf(['resync', 'not-a-site'])).toMatch(/not a site id/);
    expect(usageErrorOf(['resync'])).toMatch(/\[site\] <siteId>/);
    expect(usageErrorOf(['resync', 'site'])).toMatch(/site <siteId>/);
    expect(usageErrorOf(['inbox-import', '--token', 't'])).toMatch(/one inbox id/);
    expect(usageErrorOf(['replay', 'a', 'b'])).toMatch(/one workflow id/);
    expect(usageErrorOf(['signup', '--site-name', 'Acme'])).toMatch(/--slug/);
    expect(usageErrorOf(['signup', '--site-name', 'A', '--slug', 'a', '--owner-email', 'e', '--owner-first-name', 'f', '--owner-last-name', 'l', '--teamwork-url', 'https://a.teamwork.com'])).toMatch(/--teamwork-key/);
  });

  test('O2 When progress is drawn, Then the bar fills in proportion, caps at 100% and shows the count alone while the total is unknown', () => {
    expect(renderBar({ label: 'Companies', done: 1500, total: 3001 }, { width: 10 })).toBe('Companies  [████░░░░░░]   49%  1,500/3,001');
    expect(renderBar({ label: 'People', done: 0, total: 20 }, { width: 10, labelWidth: 9 })).toBe('People     [░░░░░░░░░░]    0%  0/20');
    expect(renderBar({ label: 'X', done: 7, total: 5 }, { width: 4 })).toBe('X  [████]  100%  7/5');
    expect(renderBar({ label: 'X', done: 0, total: 0 }, { width: 4 })).toBe('X  [████]  100%  0/0');
    expect(renderBar({ label: 'Messages', done: 12345, total: null }, { width: 6 })).toBe('Messages  [······]  12,345 so far');
  });

  test('O2 When a sync or import snapshot is drawn, Then the frame shows its state, one bar per record kind and the outcome counts', () => {
    const running = syncFrame({
      state: 'running', phase: 'companies', workflowId: 'initial-sync/s1', totals: { companies: 3001 },
      counts: { companiesSeen: 1500, companiesCreated: 1400, companiesMatched: 90, customersSeen: 0, customersCreated: 0, customersMatched: 0, alreadyLinked: 9, skipped: 1 },
    });
    expect(running[0]).toBe('Initial sync: running (companies)  initial-sync/s1');
    expect(running[1]).toMatch(/^ {2}Companies {2}\[█+░+\] {3}49% {2}1,500\/3,001$/);
    expect(running[2]).toMatch(/^ {2}People {5}\[·+\] {2}0 so far$/);
    expect(running[3]).toBe('  created 1,400 companies and 0 customers, matched 90, already linked 9, skipped 1');
    // A finished sync has no totals: what it saw is all there was.
    const completed = syncFrame({ state: 'completed', counts: { companiesSeen: 3, customersSeen: 4 }, totals: null });
    expect(completed[1]).toMatch(/100% {2}3\/3$/);
    expect(syncFrame({ state: 'failed', counts: { companiesSeen: 1 }, failure: { type: 'TeamworkAuthRejected', message: 'key revoked' } }).at(-1)).toBe('  failed: TeamworkAuthRejected: key revoked');
    expect(syncFrame({ state: 'not_linked', counts: null })).toEqual(['Initial sync: not linked']);

    const importing: InboxImportSnapshot = {
      state: 'running', phase: 'backfill', status: 'connected', backfillDone: false,
      counts: { listed: 200, imported: 90, ticketsCreated: 60, customersCreated: 12, duplicates: 5, skippedAutomated: 3, skippedExcluded: 1, skippedFiltered: 0, gone: 1 },
    };
    const frame = inboxImportFrame('i1', importing);
    expect(frame[0]).toBe('Inbox i1: running (backfill), connected');
    expect(frame[1]).toMatch(/Messages {2}\[█+░+\] {3}50% {2}100\/200$/);
    expect(frame[2]).toBe('  imported 90 (60 new tickets, 12 new customers), duplicates 5, skipped 4 (automated 3, excluded 1, filtered 0), gone 1');
    expect(inboxImportFrame('i1', { ...importing, state: 'following', backfillDone: true })[0]).toBe('Inbox i1: backfill done, following new mail');
  });

  test('O2 When frames are shown on a terminal, Then each redraws over the last; on a pipe only changed frames are written', () => {
    const tty = recordingIo(true);
    const onTerminal = new LiveDisplay(tty.io.stdout);
    onTerminal.show(['a', 'b', 'c']);
    onTerminal.show(['a', 'B']);
    expect(tty.written.out).toBe('a\nb\nc\n\x1b[3F\x1b[Ja\nB\n');
    const pipe = recordingIo(false);
    const onPipe = new LiveDisplay(pipe.io.stdout);
    onPipe.show(['a', 'b']);
    onPipe.show(['a', 'b']);
    onPipe.show(['a', 'c']);
    expect(pipe.written.out).toBe('a\nb\na\nc\n');
  });
});

describe('deskbridge command line against a running deskbridge', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  beforeAll(async () => {
    [system, teamwork] = await Promise.all([startTestSystem(), startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [] })]);
  });
  afterAll(async () => {
    await teamwork?.close();
    await system?.stop();
  });

  const temporalFlags = () => ['--temporal-address', system.config.TEMPORAL_ADDRESS!, '--namespace', system.config.TEMPORAL_NAMESPACE, '--task-queue', system.config.TEMPORAL_TASK_QUEUE];

  /** Signs a linked site up through the CLI and follows its initial sync to the end. */
  async function signUpWithCli(companies: number) {
    const installation = `cli${Math.random().toString(36).slice(2, 10)}`;
    const { baseUrl } = teamwork.control.createInstallation({ name: installation, apiKey: `key-${installation}` });
    teamwork.control.seed({ installation, companies, contactsPerCompany: 2 });
    const owner = ownerFor(installation);
    const { io, written } = recordingIo();
    const code = await main([
      'signup', '--api-url', system.apiUrl, '--site-name', installation, '--slug', installation,
      '--owner-email', owner.email, '--owner-first-name', owner.firstName, '--owner-last-name', owner.lastName,
      '--teamwork-url', baseUrl, '--teamwork-key', `key-${installation}`, '--follow', '--interval', '100',
    ], io);
    return { code, written, installation, siteId: /created: ([0-9a-f]{24})/.exec(written.out)?.[1], token: /DESKBRIDGE_TOKEN=(\S+)/.exec(written.out)?.[1] };
  }

  test('O2 When a site signs up through the CLI with --follow, Then it prints the owner token and the progress bars end at 100% of every record', async () => {
    const signup = await signUpWithCli(25);
    expect(signup.written.err).toBe('');
    expect(signup.code).toBe(0);
    expect(signup.written.out).toMatch(new RegExp(`Site ${signup.installation} \\(${signup.installation}\\) created: [0-9a-f]{24}`));
    expect(signup.written.out).toContain(`Initial sync started: initial-sync/${signup.siteId}`);
    expect(await CompanyModel.countDocuments({ siteId: signup.siteId })).toBe(25);
    const lastFrame = signup.written.out.slice(signup.written.out.lastIndexOf('Initial sync:'));
    expect(lastFrame).toMatch(/^Initial sync: completed {2}initial-sync\//);
    expect(lastFrame).toMatch(/Companies {2}\[█{30}\] {2}100% {2}26\/26/);
    expect(lastFrame).toMatch(/People {5}\[█{30}\] {2}100% {2}51\/51/);
    expect(lastFrame).toContain('created 25 companies and 50 customers');

    // The installed executable, as a user runs it, on a pipe.
    const run = await promisify(execFile)(process.execPath, [path.resolve(__dirname, '../../cli/deskbridge.cjs'), 'sync-status', '--once'], {
      env: { ...process.env, DESKBRIDGE_API_URL: system.apiUrl, DESKBRIDGE_TOKEN: signup.token },
    });
    expect(run.stdout).toMatch(/^Initial sync: completed/);
    expect(run.stdout).toMatch(/Companies {2}\[█{30}\] {2}100% {2}26\/26/);

    const rejected = recordingIo();
    expect(await main(['sync-status', '--once', '--api-url', system.apiUrl, '--token', 'dbk_wrong'], rejected.io)).toBe(1);
    expect(rejected.written.err).toMatch(/GET \/api\/sync\/status answered 401/);
  });

  test('O3 When a site is re-synced through the CLI, Then its initial sync runs again to completion and creates nothing twice', async () => {
    const signup = await signUpWithCli(4);
    expect(signup.code).toBe(0);
    const { io, written } = recordingIo();
    const code = await runCommand(parseCli(['resync', signup.siteId!, '--follow', '--interval', '100', ...temporalFlags()]), io);
    expect(written.err).toBe('');
    expect(code).toBe(0);
    expect(written.out).toMatch(new RegExp(`^Re-sync of site ${signup.siteId} running: initial-sync/${signup.siteId} \\(run [0-9a-f-]+\\)`));
    const lastFrame = written.out.slice(written.out.lastIndexOf('Initial sync:'));
    expect(lastFrame).toMatch(/^Initial sync: completed/);
    expect(lastFrame).toContain('created 0 companies and 0 customers, matched 0, already linked 12');
    expect(await CompanyModel.countDocuments({ siteId: signup.siteId })).toBe(4);
  });

  test('O3 When a completed initial sync is replayed through the CLI, Then it prints OK; an unknown workflow id is a clear error', async () => {
    const signup = await signUpWithCli(3);
    expect(signup.code).toBe(0);
    // The site says "completed" one activity before the workflow itself closes.
    await system.runtime.temporal.workflow.getHandle(`initial-sync/${signup.siteId}`).result();
    const bundle = process.env.DESKBRIDGE_WORKFLOW_BUNDLE ? ['--bundle', process.env.DESKBRIDGE_WORKFLOW_BUNDLE] : [];
    const ok = recordingIo();
    expect(await runCommand(parseCli(['replay', `initial-sync/${signup.siteId}`, ...bundle, ...temporalFlags()]), ok.io)).toBe(0);
    expect(ok.written.out).toMatch(new RegExp(`^OK initial-sync/${signup.siteId} \\(initialSync, run [0-9a-f-]+, COMPLETED, \\d+ events\\) replays against the current workflow code\\n$`));

    const unknown = runCommand(parseCli(['replay', 'initial-sync/000000000000000000000000', ...bundle, ...temporalFlags()]), recordingIo().io);
    await expect(unknown).rejects.toThrow(CliError);
    await expect(unknown).rejects.toThrow(/cannot fetch initial-sync\/000000000000000000000000 from Temporal/);
  });

  test('O2 When an inbox backfill is followed, Then the bar grows with the listed messages and the command ends once the backfill is done', async () => {
    // The API's answers for GET /api/inboxes/:id/import as a backfill advances (api/routes/inboxes.ts importProgressSchema).
    const zero = { listed: 0, imported: 0, ticketsCreated: 0, customersCreated: 0, duplicates: 0, skippedAutomated: 0, skippedExcluded: 0, skippedFiltered: 0, gone: 0 };
    const answers = [
      { status: 'connected', state: 'running', live: true, phase: 'backfill', backfillDone: false, counts: { ...zero, listed: 100 } },
      { status: 'connected', state: 'running', live: true, phase: 'backfill', backfillDone: false, counts: { ...zero, listed: 200, imported: 80, ticketsCreated: 50, skippedAutomated: 20 } },
      { status: 'connected', state: 'following', live: true, phase: 'following', backfillDone: true, counts: { ...zero, listed: 250, imported: 220, ticketsCreated: 150, skippedAutomated: 25, duplicates: 5 } },
    ];
    const requests: Array<{ url?: string; authorization?: string }> = [];
    const server = http.createServer((req, res) => {
      requests.push({ url: req.url, authorization: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(answers[Math.min(requests.length - 1, answers.length - 1)]));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { io, written } = recordingIo();
      const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect(await main(['inbox-import', 'inbox 7', '--api-url', apiUrl, '--token', 'dbk_t', '--interval', '50'], io)).toBe(0);
      expect(requests).toEqual(Array(3).fill({ url: '/api/inboxes/inbox%207/import', authorization: 'Bearer dbk_t' }));
      const frames = written.out.trimEnd().split('\n');
      expect(frames.filter((line) => line.includes('Messages'))).toEqual([
        expect.stringMatching(/\[░{30}\] {4}0% {2}0\/100$/),
        expect.stringMatching(/ {3}50% {2}100\/200$/),
        expect.stringMatching(/\[█{30}\] {2}100% {2}250\/250$/),
      ]);
      expect(frames.at(-3)).toBe('Inbox inbox 7: backfill done, following new mail');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
