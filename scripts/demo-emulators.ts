import fs from 'node:fs';
import path from 'node:path';
import { startTeamworkEmulator } from '../emulators/teamwork';
import { startGmailEmulator } from '../emulators/gmail';
import { startGraphEmulator } from '../emulators/graph';
import { generateMailbox } from '../emulators/mail/generate';

export interface DemoEmulators {
  env: Record<string, string>;
  banner: string[];
  /** Called once the API listens: the Gmail emulator then pushes to its webhook. */
  apiListening(apiUrl: string): void;
  close(): Promise<void>;
}

const googleClient = { clientId: 'deskbridge-demo.apps.googleusercontent.com', clientSecret: 'demo-google-secret' };
const msClient = { clientId: '00000000-0000-4000-8000-0000000de300', clientSecret: 'demo-graph-secret' };
const pubsubTopic = 'projects/demo/topics/deskbridge';

/**
 * Local stand-ins for Teamwork.com, Gmail and Microsoft Graph, seeded with sample data so a
 * fresh `npm start` has something to sync and import. Started only when no real provider
 * endpoints are configured; deskbridge reaches them through its ordinary configuration.
 */
export async function startDemoEmulators(dataDir: string): Promise<DemoEmulators> {
  const [teamwork, gmail, graph] = await Promise.all([
    startTeamworkEmulator({ rateLimitPerMinute: 150 }),
    startGmailEmulator({ oauthClients: [googleClient] }),
    startGraphEmulator(),
  ]);
  const demo = teamwork.control.createInstallation({ name: 'demo', apiKey: 'demo-api-key', ownerCompanyName: 'Demo Agency' });
  teamwork.control.seed({ installation: 'demo', companies: 25, contactsPerCompany: 4, usersPerCompany: 1 });
  const demoMailbox = (seed: number, address: string) => generateMailbox({ seed, address, messages: 200, threads: 60 }).seed;
  gmail.control.createAccount('agent@gmail.demo.example.com');
  gmail.control.seedMailbox(demoMailbox(1, 'agent@gmail.demo.example.com'));
  graph.control.createAccount('agent@outlook.demo.example.com');
  await graph.control.seedMailbox(demoMailbox(2, 'agent@outlook.demo.example.com'));
  const caFile = path.join(dataDir, 'graph-emulator-ca.pem');
  fs.writeFileSync(caFile, graph.caPem);
  const audience = 'deskbridge-demo-push';
  return {
    env: {
      GMAIL_API_ROOT_URL: `${gmail.url}/`,
      GOOGLE_OAUTH_AUTH_URL: `${gmail.url}/o/oauth2/v2/auth`,
      GOOGLE_OAUTH_TOKEN_URL: `${gmail.url}/token`,
      GOOGLE_JWKS_URL: `${gmail.url}/oauth2/v3/certs`,
      GOOGLE_CLIENT_ID: googleClient.clientId,
      GOOGLE_CLIENT_SECRET: googleClient.clientSecret,
      GOOGLE_PUBSUB_TOPIC: pubsubTopic,
      GOOGLE_PUBSUB_AUDIENCE: audience,
      GRAPH_BASE_URL: graph.url,
      MS_IDENTITY_BASE_URL: graph.url,
      MS_TENANT: graph.tenantId,
      MS_CLIENT_ID: msClient.clientId,
      MS_CLIENT_SECRET: msClient.clientSecret,
      GRAPH_CA_FILE: caFile,
    },
    banner: [
      `Teamwork.com emulator: ${demo.baseUrl} (API key: demo-api-key, 25 client companies, 125 people)`,
      `Gmail emulator: ${gmail.url} (mailbox agent@gmail.demo.example.com, 200 messages); Graph emulator: ${graph.url} (agent@outlook.demo.example.com)`,
      `Try: curl -s -X POST localhost:PORT/api/signup -H 'content-type: application/json' -d '{"siteName":"Demo","slug":"demo","owner":{"email":"owner@example.com","firstName":"Olive","lastName":"Owner"},"teamwork":{"baseUrl":"${demo.baseUrl}","apiKey":"demo-api-key"}}'`,
    ],
    apiListening(apiUrl) {
      gmail.control.setPushEndpoint(pubsubTopic, `${apiUrl}/webhooks/gmail`, audience);
    },
    close: async () => {
      await Promise.all([teamwork.close(), gmail.close(), graph.close()]);
    },
  };
}
