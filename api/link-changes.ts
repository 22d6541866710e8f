import type { Types } from 'mongoose';
import type { AppDeps } from './deps';
import { signalLinkChanged, type WorkflowStarter } from '../activities/contact-sync/link-signals';
import type { LinkChange, LinkEntity } from '../workflows/link';

export function starterOf(deps: Pick<AppDeps, 'temporal' | 'config'>): WorkflowStarter {
  return { temporal: deps.temporal, taskQueue: deps.config.TEMPORAL_TASK_QUEUE, linkIdleSeconds: deps.config.LINK_IDLE_SECONDS };
}

/**
 * Tells a record's link workflow about a Desk edit. The edit is already saved with sync state
 * `pending`; if Temporal cannot be reached now, reconciliation hands it over later, so the
 * user's write never fails because of it.
 */
export async function handOverDeskChange(deps: Pick<AppDeps, 'temporal' | 'config' | 'logger'>, entity: LinkEntity, siteId: string, deskId: Types.ObjectId | string, kind: LinkChange['kind']): Promise<void> {
  try {
    await signalLinkChanged(starterOf(deps), entity, siteId, String(deskId), { side: 'desk', kind });
  } catch (err) {
    deps.logger.warn({ err, entity, siteId, deskId: String(deskId) }, 'link workflow unreachable; reconciliation will hand the change over');
  }
}
