import fs from 'node:fs';
import path from 'node:path';
import type { HistoryAndWorkflowId } from '@temporalio/client';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import * as workflows from '../../workflows';
import type { RecordedHistoryFile } from '../../scripts/history-scenarios/scenario';
import { historyFromJson } from './history-json';

/**
 * SPEC O3: every history recorded by `npm run record-histories` must replay against the workflow
 * code as it is now, so a change that would break running workflows fails the suite.
 */
const historiesDir = path.join(__dirname, 'histories');

interface CorpusEntry {
  file: string;
  recorded: RecordedHistoryFile;
}

function readCorpus(): CorpusEntry[] {
  if (!fs.existsSync(historiesDir)) return [];
  return fs.readdirSync(historiesDir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({ file, recorded: JSON.parse(fs.readFileSync(path.join(historiesDir, file), 'utf8')) as RecordedHistoryFile }));
}

/** Names the worker registers: the functions workflows/index.ts exports. */
const exportedWorkflowTypes = Object.entries(workflows).filter(([, value]) => typeof value === 'function').map(([name]) => name).sort();

const replayOptions = (): ReplayWorkerOptions => {
  const bundle = process.env.DESKBRIDGE_WORKFLOW_BUNDLE;
  return bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: require.resolve('../../workflows') };
};

type HistoryEvent = RecordedHistoryFile['history']['events'][number];
const eventsOfType = (events: HistoryEvent[], type: string) => events.filter((event) => event.eventType === `EVENT_TYPE_${type}`);
const retriedActivities = (events: HistoryEvent[]) =>
  eventsOfType(events, 'ACTIVITY_TASK_STARTED').filter((event) => Number((event.activityTaskStartedEventAttributes as { attempt?: number }).attempt ?? 1) > 1).length;
const failedActivities = (events: HistoryEvent[]) => eventsOfType(events, 'ACTIVITY_TASK_FAILED').length + eventsOfType(events, 'ACTIVITY_TASK_TIMED_OUT').length;

async function replayAll(entries: Array<{ file: string; workflowId: string; history: unknown }>) {
  const histories: HistoryAndWorkflowId[] = entries.map((entry) => ({ workflowId: entry.workflowId, history: historyFromJson(entry.history) }));
  const results: Array<{ file: string; error?: Error }> = [];
  // The replayer answers one result per history, in the order given.
  for await (const result of Worker.runReplayHistories(replayOptions(), histories)) {
    const entry = entries[results.length]!;
    expect(result.workflowId).toBe(entry.workflowId);
    results.push({ file: entry.file, error: result.error });
  }
  return results;
}

describe('replay corpus (O3)', () => {
  const corpus = readCorpus();

  test('O3 When the workflow types exported from workflows/index.ts are listed, Then each has a recorded normal run and a recorded run with failures and retries', () => {
    const missing: string[] = [];
    for (const workflowType of exportedWorkflowTypes) {
      const own = corpus.filter((entry) => entry.recorded.workflowType === workflowType);
      const clean = own.filter(({ recorded }) => retriedActivities(recorded.history.events) === 0 && failedActivities(recorded.history.events) === 0);
      const retried = own.filter(({ recorded }) => retriedActivities(recorded.history.events) > 0);
      if (clean.length === 0) missing.push(`${workflowType}: no history of a run without failures`);
      if (retried.length === 0) missing.push(`${workflowType}: no history with a retried activity`);
    }
    // Record them with `npm run record-histories -- --only <workflowType>` after adding scripts/history-scenarios/<workflow-type>.ts.
    expect(missing).toEqual([]);
    expect(exportedWorkflowTypes).toContain('initialSync');
  });

  test('O3 When every recorded history is replayed against the current workflow code, Then none diverges', async () => {
    expect(corpus.length).toBeGreaterThan(0);
    const misfiled = corpus.filter(({ file, recorded }) => !exportedWorkflowTypes.includes(recorded.workflowType) || path.dirname(file) !== recorded.workflowType);
    expect(misfiled.map(({ file, recorded }) => `${file} (${recorded.workflowType})`)).toEqual([]);
    const results = await replayAll(corpus.map(({ file, recorded }) => ({ file, workflowId: recorded.workflowId, history: recorded.history })));
    expect(results.map((r) => r.file).sort()).toEqual(corpus.map((entry) => entry.file).sort());
    const diverged = results.filter((r) => r.error).map((r) => `${r.file}: ${r.error!.name}: ${r.error!.message}`);
    expect(diverged).toEqual([]);
  });

  test('O3 When a recorded history is altered to schedule a different activity, Then replay fails with DeterminismViolationError', async () => {
    // One altered history per workflow type: the control proves replay would notice a change there.
    const altered = exportedWorkflowTypes.flatMap((workflowType) => {
      const entry = corpus.find(({ recorded }) => recorded.workflowType === workflowType && eventsOfType(recorded.history.events, 'ACTIVITY_TASK_SCHEDULED').length > 0);
      if (!entry) return [];
      const history = structuredClone(entry.recorded.history);
      const scheduled = eventsOfType(history.events, 'ACTIVITY_TASK_SCHEDULED')[0]!.activityTaskScheduledEventAttributes as { activityType: { name: string } };
      scheduled.activityType.name = 'activityTheCodeNeverSchedules';
      return [{ file: `${entry.file} (altered)`, workflowId: entry.recorded.workflowId, history }];
    });
    expect(altered.length).toBeGreaterThan(0);
    const results = await replayAll(altered);
    expect(results).toHaveLength(altered.length);
    for (const result of results) {
      expect(result.error).toBeInstanceOf(DeterminismViolationError);
      expect(result.error!.message).toContain('activityTheCodeNeverSchedules');
    }
  });
});
