/**
 * `npm run chaos [-- --scenario initial-sync|mailbox] [--size full|fast] [--seed N]`: the crash
 * and fault runs of issue 7. Each scenario starts its own infrastructure (its database is stopped
 * mid-run), ends with exact counts, and the run prints one JSON line with every scenario's
 * results; the exit code is 1 when any count is off. `--size fast` is the variant `npm test` runs.
 */
import { parseArgs } from 'node:util';
import { fullSizeInitialSyncChaos, runInitialSyncChaos } from './chaos-initial-sync';
import { fullSizeMailboxChaos, runMailboxChaos } from './chaos-mailbox';

const sizes = {
  full: { initialSync: fullSizeInitialSyncChaos, mailbox: fullSizeMailboxChaos },
  fast: {
    initialSync: { companies: 400, contactsPerCompany: 3, kills: 4, faultRate: 0.2, databaseOutageSeconds: 5 },
    mailbox: { messages: 300, threads: 60, kills: 3, faultRate: 0.2, databaseOutageSeconds: 5 },
  },
};
type Size = keyof typeof sizes;

const scenarios = {
  'initial-sync': async (seed: number, size: Size) => {
    const result = await runInitialSyncChaos({ ...sizes[size].initialSync, seed });
    const exact =
      result.state === 'completed' &&
      result.companies === result.expectedCompanies &&
      result.customers === result.expectedCustomers &&
      result.lostCompanies + result.lostCustomers + result.duplicatedCompanies + result.duplicatedCustomers + result.duplicateEmails + result.wrongLinks + result.duplicatedTeamworkWrites === 0;
    return { ...result, exact };
  },
  mailbox: (seed: number, size: Size) => runMailboxChaos({ ...sizes[size].mailbox, seed }),
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scenario: { type: 'string', multiple: true }, size: { type: 'string', default: 'full' }, seed: { type: 'string' } } });
  const names = (values.scenario ?? Object.keys(scenarios)) as (keyof typeof scenarios)[];
  const unknown = names.filter((name) => !(name in scenarios));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`);
  if (!(values.size! in sizes)) throw new Error(`--size must be one of ${Object.keys(sizes).join(', ')}`);
  const seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
  const results: Record<string, { exact: boolean }> = {};
  for (const name of names) results[name] = await scenarios[name](seed, values.size as Size);
  console.log(JSON.stringify({ seed, size: values.size, ...results }));
  process.exitCode = Object.values(results).every((r) => r.exact) ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
