import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from '@temporalio/worker';
import { startTeamworkEmulator } from '../emulators/teamwork';
import { stopAll } from '../infra';
import { historyToJson } from '../test/replay/history-json';
import { startDeskbridgeEnvironment } from '../test/support/environment';
import { startTestSystem } from '../test/support/system';
import * as workflows from '../workflows';
import { scenarioFileName, type HistoryScenario, type RecordedHistoryFile, type ScenarioContext } from './history-scenarios/scenario';

const usage = `Records the replay corpus (SPEC O3): runs every scenario in scripts/history-scenarios/ against
a real Temporal and database (embedded, or TEMPORAL_ADDRESS / MONGODB_URI) with an in-process
worker, and writes each workflow's history to test/replay/histories/<workflowType>/<scenario>.json.

  npm run record-histories [-- --only initialSync[/retries] ...] [--out <dir>]`;

const scenarioDir = path.join(__dirname, 'history-scenarios');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', multiple: true },
      out: { type: 'string', default: path.resolve(__dirname, '../test/replay/histories') },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const selected = selectScenarios(values.only ?? []);
  const log = (msg: string) => process.stderr.write(`[record-histories] ${msg}\n`);

  const environment = await startDeskbridgeEnvironment({ log, keyId: 'record1', logLevel: 'silent' });
  const bundlePath = process.env.DESKBRIDGE_WORKFLOW_BUNDLE!;

  let system = await startTestSystem();
  const teamwork = await startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [] });
  const written: string[] = [];
  try {
    for (const { workflowType, scenario } of selected) {
      log(`${workflowType}/${scenario.name}: ${scenario.description}`);
      const cleanups: Array<() => Promise<void>> = [];
      const context: ScenarioContext = {
        system,
        teamwork,
        onCleanup: (close) => cleanups.push(close),
        waitUntilClosed: (workflowId) => waitUntilClosed(system.runtime.temporal, workflowId),
        async restartSystem(env) {
          await system.stop();
          system = await startTestSystem({ env });
          context.system = system;
          return system;
        },
      };
      let recorded;
      try {
        recorded = await scenario.run(context);
      } finally {
        teamwork.control.clearFaults();
        for (const close of cleanups.reverse()) await close();
      }
      const handle = system.runtime.temporal.workflow.getHandle(recorded.workflowId, recorded.runId);
      const [description, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
      if (description.type !== workflowType) throw new Error(`${workflowType}/${scenario.name} named a ${description.type} workflow`);
      // A recording the current code cannot replay would only make the suite fail later.
      await Worker.runReplayHistory({ workflowBundle: { codePath: bundlePath } }, history, recorded.workflowId);
      const file: RecordedHistoryFile = {
        workflowType,
        scenario: scenario.name,
        description: scenario.description,
        workflowId: recorded.workflowId,
        runId: description.runId,
        recordedAt: new Date().toISOString(),
        history: historyToJson(history),
      };
      const target = path.join(values.out, workflowType, `${scenario.name}.json`);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, `${JSON.stringify(file, null, 2)}\n`);
      written.push(path.relative(process.cwd(), target));
      log(`  ${history.events?.length ?? 0} events, ${description.status.name} → ${path.relative(process.cwd(), target)}`);
    }
  } finally {
    await teamwork.close();
    await system.stop();
    await environment.stop();
    await stopAll();
  }
  process.stdout.write(`${JSON.stringify({ recorded: written.length, files: written })}\n`);
}

/**
 * Every workflow type must have a scenario file, so a new workflow cannot ship without its
 * histories; `--only type` or `--only type/scenario` narrows the run.
 */
function selectScenarios(only: string[]): Array<{ workflowType: string; scenario: HistoryScenario }> {
  const workflowTypes = Object.keys(workflows).filter((name) => typeof (workflows as Record<string, unknown>)[name] === 'function');
  const filters = only.map((filter) => {
    const [type, name] = filter.split('/');
    if (!workflowTypes.includes(type!)) throw new Error(`--only ${filter}: no workflow type of that name (known: ${workflowTypes.join(', ')})`);
    return { type, name };
  });
  const selected: Array<{ workflowType: string; scenario: HistoryScenario }> = [];
  for (const workflowType of workflowTypes) {
    const ownFilters = filters.filter((filter) => filter.type === workflowType);
    if (filters.length > 0 && ownFilters.length === 0) continue;
    const file = path.join(scenarioDir, scenarioFileName(workflowType));
    if (!fs.existsSync(file)) throw new Error(`workflow type ${workflowType} has no scenarios: add ${path.relative(process.cwd(), file)} exporting \`scenarios: HistoryScenario[]\``);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- scenario files are found by workflow type at run time
    const { scenarios } = require(file) as { scenarios?: HistoryScenario[] };
    if (!scenarios?.length) throw new Error(`${file} exports no scenarios`);
    for (const scenario of scenarios) {
      if (ownFilters.length === 0 || ownFilters.some((filter) => !filter.name || filter.name === scenario.name)) selected.push({ workflowType, scenario });
    }
  }
  if (selected.length === 0) throw new Error(`no scenario matches --only ${only.join(' ')}`);
  return selected;
}

async function waitUntilClosed(temporal: ScenarioContext['system']['runtime']['temporal'], workflowId: string, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status } = await temporal.workflow.getHandle(workflowId).describe();
    if (status.name !== 'RUNNING') return;
    if (Date.now() > deadline) throw new Error(`${workflowId} still running after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`record-histories failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
