import type { TeamworkEmulator } from '../../emulators/teamwork';
import type { TestSystem } from '../../test/support/system';
import type { HistoryJson } from '../../test/replay/history-json';
import type * as workflows from '../../workflows';

/** The name the worker registers a workflow under: its export name in workflows/index.ts. */
export type WorkflowType = keyof typeof workflows & string;

export interface ScenarioContext {
  /** A fresh deskbridge (own database and task queue) with an in-process worker and the API. */
  system: TestSystem;
  /** A Teamwork.com emulator without rate limits; faults a scenario injects are cleared after it. */
  teamwork: TeamworkEmulator;
  /** Registers something the scenario started for itself (another emulator), closed after it. */
  onCleanup(close: () => Promise<void>): void;
  /** Resolves once the workflow has closed (completed, failed, …), whatever its outcome. */
  waitUntilClosed(workflowId: string): Promise<void>;
  /**
   * Replaces `system` with a fresh one whose configuration adds `env` (URLs of provider emulators
   * the scenario started): configuration is read once per system, and one process holds one.
   */
  restartSystem(env: Record<string, string>): Promise<TestSystem>;
}

export interface RecordedWorkflow {
  workflowId: string;
  /** Pins one run; without it the latest run of the id is recorded. */
  runId?: string;
}

/**
 * One recorded history. `run` drives the system until the workflow's history shows what the
 * scenario is about (long-lived workflows need not have finished) and names that workflow.
 */
export interface HistoryScenario {
  /** File name under test/replay/histories/<workflowType>/, e.g. `normal` or `retries`. */
  name: string;
  description: string;
  run(context: ScenarioContext): Promise<RecordedWorkflow>;
}

/** What a committed history file holds: the Temporal history plus what replay needs to know. */
export interface RecordedHistoryFile {
  workflowType: string;
  scenario: string;
  description: string;
  /** Histories carry no workflow id; replay hands this one to the workflow. */
  workflowId: string;
  runId: string;
  recordedAt: string;
  /** Temporal's proto JSON, as `temporal workflow show --output json` writes it (test/replay/history-json.ts). */
  history: HistoryJson;
}

/** Where scenarios for a workflow type live: its export name in kebab case (initialSync → initial-sync.ts). */
export function scenarioFileName(workflowType: string): string {
  return `${workflowType.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}.ts`;
}
