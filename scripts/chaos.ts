/**
 * `npm run chaos [-- --scenario initial-sync] [--seed N]`: the full-size crash and fault runs
 * (issue 7). Each scenario starts its own infrastructure, ends with exact counts, and the run
 * prints one JSON line with every scenario's results; the exit code is 1 when any count is off.
 */
import { parseArgs } from 'node:util';
import { fullSizeInitialSyncChaos, runInitialSyncChaos } from './chaos-initial-sync';

const scenarios = {
  'initial-sync': async (seed: number) => {
    const result = await runInitialSyncChaos({ ...fullSizeInitialSyncChaos, seed });
    const exact =
      result.state === 'completed' &&
      result.companies === result.expectedCompanies &&
      result.customers === result.expectedCustomers &&
      result.lostCompanies + result.lostCustomers + result.duplicatedCompanies + result.duplicatedCustomers + result.duplicateEmails + result.wrongLinks + result.duplicatedTeamworkWrites === 0;
    return { ...result, exact };
  },
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scenario: { type: 'string', multiple: true }, seed: { type: 'string' } } });
  const names = (values.scenario ?? Object.keys(scenarios)) as (keyof typeof scenarios)[];
  const unknown = names.filter((name) => !(name in scenarios));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`);
  const seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
  const results: Record<string, { exact: boolean }> = {};
  for (const name of names) results[name] = await scenarios[name](seed);
  console.log(JSON.stringify({ seed, ...results }));
  process.exitCode = Object.values(results).every((r) => r.exact) ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
