import type { ApiTarget, Polling, SignupInput } from '../args';
import { callApi } from '../api-client';
import type { CliIo } from '../io';
import { syncStatus } from './sync-status';

interface SignupAnswer {
  site: { id: string; name: string; slug: string; linked: boolean };
  owner: { id: string; email: string; token: string };
  workflowId: string | null;
}

/** `deskbridge signup`: prints the new site and the owner's token, then optionally follows the sync. */
export async function signup(io: CliIo, api: ApiTarget, input: SignupInput, follow: Polling | null): Promise<number> {
  const answer = await callApi<SignupAnswer>({ apiUrl: api.apiUrl }, 'POST', '/api/signup', input);
  io.stdout.write(
    [
      `Site ${answer.site.name} (${answer.site.slug}) created: ${answer.site.id}`,
      `Owner ${answer.owner.email}: ${answer.owner.id}`,
      answer.workflowId ? `Initial sync started: ${answer.workflowId}` : 'No Teamwork.com link: no initial sync',
      `Owner token (shown once): export DESKBRIDGE_TOKEN=${answer.owner.token}`,
      '',
    ].join('\n'),
  );
  if (!follow || !answer.workflowId) return 0;
  return syncStatus(io, { apiUrl: api.apiUrl, token: answer.owner.token }, follow);
}
