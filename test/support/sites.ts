import crypto from 'node:crypto';
import request from 'supertest';
import type { TeamworkEmulator } from '../../emulators/teamwork';
import type { TestSystem } from './system';

export interface SignedUpSite {
  siteId: string;
  token: string;
  workflowId: string | null;
  installation: string;
  baseUrl: string;
  apiKey: string;
}

/** A fresh Teamwork.com installation on the emulator, seeded, and a Desk site signed up to it. */
export async function signUpLinkedSite(
  system: TestSystem,
  teamwork: TeamworkEmulator,
  seed: { companies: number; contactsPerCompany: number; usersPerCompany?: number } = { companies: 0, contactsPerCompany: 0 },
  before?: (installation: string) => void | Promise<void>,
): Promise<SignedUpSite> {
  const installation = `tw${crypto.randomBytes(4).toString('hex')}`;
  const apiKey = `key-${installation}`;
  const { baseUrl } = teamwork.control.createInstallation({ name: installation, apiKey, ownerCompanyName: `${installation} Agency` });
  if (seed.companies > 0) teamwork.control.seed({ installation, ...seed });
  await before?.(installation);
  const res = await request(system.app)
    .post('/api/signup')
    .send({ siteName: installation, slug: installation, owner: ownerFor(installation), teamwork: { baseUrl, apiKey } });
  if (res.status !== 202) throw new Error(`signup answered ${res.status}: ${JSON.stringify(res.body)}`);
  return { siteId: res.body.site.id, token: res.body.owner.token, workflowId: res.body.workflowId, installation, baseUrl, apiKey };
}

export function ownerFor(name: string) {
  return { email: `owner@${name}.example.com`, firstName: 'Olive', lastName: 'Owner' };
}

export async function waitForSync(system: TestSystem, token: string, timeoutMs = 120_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await request(system.app).get('/api/sync/status').set('authorization', `Bearer ${token}`);
    if (res.body.state === 'completed' || res.body.state === 'failed') return res.body;
    if (Date.now() > deadline) throw new Error(`initial sync still ${res.body.state} after ${timeoutMs} ms: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
