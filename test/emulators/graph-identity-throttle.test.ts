import { createHash } from 'node:crypto';
import https from 'node:https';
import { Client, GraphError as ClientGraphError, RetryHandlerOptions } from '@microsoft/microsoft-graph-client';
import { emulatorGraphClientOptions, startGraphEmulator, type GraphEmulator } from '../../emulators/graph';

const AGENT = 'agent@desk.test';
const CLIENT_ID = 'deskbridge-test-app';
const REDIRECT_URI = 'http://127.0.0.1:9/oauth/outlook/callback';

/** Plain HTTPS against the emulator (the OAuth endpoints are not Graph, so no Graph client). */
function emulatorRequest(emulator: GraphEmulator, method: string, path: string, payload?: { form: Record<string, string> } | { json: unknown }) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: () => Record<string, unknown> }>((resolve, reject) => {
    const body = payload === undefined ? undefined : 'form' in payload ? new URLSearchParams(payload.form).toString() : JSON.stringify(payload.json);
    const contentType = payload === undefined ? undefined : 'form' in payload ? 'application/x-www-form-urlencoded' : 'application/json';
    const request = https.request(
      `${emulator.url}${path}`,
      { method, ca: emulator.caPem, headers: contentType ? { 'Content-Type': contentType } : {} },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, json: () => JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

async function rejection(promise: Promise<unknown>): Promise<ClientGraphError> {
  return promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (error: ClientGraphError) => error,
  );
}

describe('Graph emulator identity platform', () => {
  let emulator: GraphEmulator;

  beforeEach(async () => {
    emulator = await startGraphEmulator();
    emulator.control.createAccount(AGENT);
  });

  afterEach(() => emulator.close());

  test('I2 authorization code with PKCE, rotating refresh tokens, and invalid_grant AADSTS50173 after revocation', async () => {
    const verifier = 'a-long-random-code-verifier-0123456789-abcdefghijklmnopqrstuvwxyz';
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const authorize = await emulatorRequest(
      emulator,
      'GET',
      `/common/oauth2/v2.0/authorize?${new URLSearchParams({
        client_id: CLIENT_ID,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'offline_access Mail.ReadWrite Mail.Send',
        state: 'opaque-state',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        login_hint: AGENT,
      })}`,
    );
    expect(authorize.status).toBe(302);
    const callback = new URL(String(authorize.headers.location));
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI);
    expect(callback.searchParams.get('state')).toBe('opaque-state');
    const code = callback.searchParams.get('code')!;

    const redeem = (codeVerifier: string) =>
      emulatorRequest(emulator, 'POST', '/common/oauth2/v2.0/token', {
        form: { grant_type: 'authorization_code', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, code, code_verifier: codeVerifier },
      });
    const wrongVerifier = await redeem('not-the-verifier');
    expect(wrongVerifier.status).toBe(400);
    expect(wrongVerifier.json()).toMatchObject({ error: 'invalid_grant', error_codes: [501481] });

    const granted = await redeem(verifier);
    expect(granted.status).toBe(200);
    const tokens = granted.json();
    expect(tokens).toMatchObject({ token_type: 'Bearer', scope: 'Mail.ReadWrite Mail.Send', expires_in: 3600 });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect((await redeem(verifier)).json()).toMatchObject({ error: 'invalid_grant', error_codes: [54005] });

    const refresh = (refreshToken: unknown) =>
      emulatorRequest(emulator, 'POST', '/common/oauth2/v2.0/token', {
        form: { grant_type: 'refresh_token', client_id: CLIENT_ID, refresh_token: String(refreshToken) },
      });
    const rotated = (await refresh(tokens.refresh_token)).json();
    expect(rotated.refresh_token).toEqual(expect.any(String));
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    // Microsoft does not revoke the superseded token; it keeps working.
    expect((await refresh(tokens.refresh_token)).status).toBe(200);

    const client = Client.initWithMiddleware(emulatorGraphClientOptions(emulator, async () => String(rotated.access_token)));
    expect((await client.api('/me').get()).mail).toBe(AGENT);

    emulator.control.revokeRefreshTokens(AGENT);
    const revoked = await refresh(rotated.refresh_token);
    expect(revoked.status).toBe(400);
    const revokedBody = revoked.json();
    expect(revokedBody).toMatchObject({ error: 'invalid_grant', error_codes: [50173] });
    expect(String(revokedBody.error_description)).toMatch(/^AADSTS50173: /);
    expect(emulator.control.tokenEndpointCalls().map((call) => call.status)).toEqual([400, 200, 400, 200, 200, 400]);

    emulator.control.expireAccessTokens(AGENT);
    await expect(client.api('/me').get()).rejects.toMatchObject({ statusCode: 401, code: 'InvalidAuthenticationToken' });
  });
});

describe('Graph emulator HTTP control surface', () => {
  let emulator: GraphEmulator;

  beforeEach(async () => {
    emulator = await startGraphEmulator();
  });

  afterEach(() => emulator.close());

  test('I3 out-of-process tools create accounts, deliver mail and read counters over /_emulator', async () => {
    expect((await emulatorRequest(emulator, 'POST', '/_emulator/accounts', { json: { address: AGENT } })).status).toBe(200);
    const receivedAt = new Date().toISOString();
    const raw = `From: a@acme.test\r\nTo: ${AGENT}\r\nSubject: Over HTTP\r\nMessage-ID: <http1@acme.test>\r\nDate: ${new Date().toUTCString()}\r\n\r\nbody\r\n`;
    const delivered = await emulatorRequest(emulator, 'POST', `/_emulator/accounts/${AGENT}/deliver`, { json: { raw, receivedAt, threadKey: 't' } });
    expect(delivered.json()).toMatchObject({ internetMessageId: '<http1@acme.test>', folder: 'inbox' });

    const tokens = (await emulatorRequest(emulator, 'POST', `/_emulator/accounts/${AGENT}/tokens`, { json: {} })).json();
    const client = Client.initWithMiddleware(emulatorGraphClientOptions(emulator, async () => String(tokens.access_token)));
    const page = await client.api('/me/messages').select(['subject']).get();
    expect(page.value.map((message: { subject: string }) => message.subject)).toEqual(['Over HTTP']);
    expect((await emulatorRequest(emulator, 'GET', '/_emulator/request-counts')).json()).toEqual({ total: 1, byMailbox: { [AGENT]: 1 }, byStatus: { 200: 1 } });
  });
});

describe('Graph emulator throttling', () => {
  let emulator: GraphEmulator;
  let client: Client;
  const noRetries = () => [new RetryHandlerOptions(0, 0)];

  beforeEach(async () => {
    emulator = await startGraphEmulator({ throttle: { enabled: true } });
    emulator.control.createAccount(AGENT);
    const { access_token: accessToken } = emulator.control.issueTokens(AGENT);
    client = Client.initWithMiddleware(emulatorGraphClientOptions(emulator, async () => accessToken));
  });

  afterEach(() => emulator.close());

  test('I3 a fifth concurrent request on one mailbox gets 429 ApplicationThrottled with Retry-After; the client retry recovers', async () => {
    emulator.control.injectFaults({ latencyMs: 150 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, () => client.api('/me/messages').middlewareOptions(noRetries()).get()),
    );
    const rejected = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected').map((outcome) => outcome.reason as ClientGraphError);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(4);
    expect(rejected).toHaveLength(2);
    for (const error of rejected) {
      expect(error).toMatchObject({ statusCode: 429, code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.' });
      expect(error.headers?.get('Retry-After')).toBe('1');
    }

    // The stock RetryHandler waits Retry-After and retries, so all six eventually succeed.
    emulator.control.clearRequestLog();
    const retried = await Promise.all(Array.from({ length: 6 }, () => client.api('/me/messages').get()));
    expect(retried).toHaveLength(6);
    const statuses = emulator.control.requestLog().map((entry) => entry.status);
    expect(statuses.filter((status) => status === 429)).toHaveLength(2);
    expect(statuses.filter((status) => status === 200)).toHaveLength(6);
  });

  test('I3 the per-mailbox request window counts each $batch item and can omit Retry-After', async () => {
    emulator.control.setThrottle({ requestsPer10Min: 3 });
    const batch = await client.api('/$batch').post({
      requests: Array.from({ length: 5 }, (_, index) => ({ id: String(index), method: 'GET', url: '/me/mailFolders/inbox' })),
    });
    const statuses = (batch.responses as { status: number; headers: Record<string, string> }[]).map((response) => response.status).sort();
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const throttledItem = (batch.responses as { status: number; headers: Record<string, string> }[]).find((response) => response.status === 429)!;
    expect(Number(throttledItem.headers['Retry-After'])).toBeGreaterThan(590);

    emulator.control.setThrottle({ retryAfterSeconds: null });
    const error = await rejection(client.api('/me').middlewareOptions(noRetries()).get());
    expect(error.statusCode).toBe(429);
    expect(error.headers?.get('Retry-After')).toBeNull();
    expect(emulator.control.requestCounts().byStatus).toEqual({ 200: 4, 429: 3 });
  });
});
