import type { Runtime } from '../lib/runtime';
import { createInitialSyncActivities } from './contact-sync/initial-sync';
import { createLinkActivities } from './contact-sync/link-sync';
import { createMailboxActivities } from './mail/mailbox-activities';
import { createTicketMailActivities } from './mail/ticket-mail-activities';
import { createTicketTaskActivities } from './tasks/ticket-tasks';

/** What activities may use from the process's runtime (never the API's request state). */
export type ActivityDeps = Pick<Runtime, 'config' | 'secrets' | 'teamwork' | 'temporal' | 'publicBaseUrl' | 'logger'>;

/** Every activity the worker registers, built from dependencies created once per process. */
export function createActivities(deps: ActivityDeps) {
  const starter = { temporal: deps.temporal, taskQueue: deps.config.TEMPORAL_TASK_QUEUE, linkIdleSeconds: deps.config.LINK_IDLE_SECONDS };
  const contactSync = { secrets: deps.secrets, teamwork: deps.teamwork, publicBaseUrl: deps.publicBaseUrl };
  return {
    ...createInitialSyncActivities(contactSync),
    ...createLinkActivities({ ...contactSync, starter, reconcileIntervalSeconds: deps.config.RECONCILE_INTERVAL_SECONDS }),
    ...createMailboxActivities({ config: deps.config, secrets: deps.secrets, publicBaseUrl: deps.publicBaseUrl, starter }),
    ...createTicketMailActivities({ config: deps.config, secrets: deps.secrets }),
    ...createTicketTaskActivities(contactSync),
  };
}

export type Activities = ReturnType<typeof createActivities>;
