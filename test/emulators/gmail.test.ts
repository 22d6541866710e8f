import { createPublicKey, createVerify, type JsonWebKey } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { google, type gmail_v1 } from 'googleapis';
import { CodeChallengeMethod, type OAuth2Client } from 'google-auth-library';
import type { GaxiosError } from 'gaxios';
import { simpleParser } from 'mailparser';
import { buildRawMessage, generateMailbox } from '../../emulators/mail/generate';
import { startGmailEmulator, quotaBoundMsgPerSec, type GmailEmulator } from '../../emulators/gmail';

const CLIENT = { clientId: 'deskbridge-client.apps.googleusercontent.com', clientSecret: 'emu-secret' };
const REDIRECT_URI = 'http://127.0.0.1:9/oauth/callback';
const GMAIL_SCOPE = 'https://www.googleapis.com/auth/gmail.modify';
const AGENT = 'agent@desk.example';

function oauthClientFor(emulator: GmailEmulator, { forceRefreshOnFailure = true } = {}): OAuth2Client {
  return new google.auth.OAuth2({
    ...CLIENT,
    // Without this, a token expired server-side before its expiry_date surfaces as 401 instead of being
    // refreshed. With it, a 403 (e.g. userRateLimitExceeded) also triggers a refresh and one retry.
    forceRefreshOnFailure,
    redirectUri: REDIRECT_URI,
    // Under Jest's CommonJS runtime gaxios cannot lazy-import node-fetch; Node's own fetch works.
    transporterOptions: { fetchImplementation: fetch },
    endpoints: {
      oauth2AuthBaseUrl: `${emulator.url}/o/oauth2/v2/auth`,
      oauth2TokenUrl: `${emulator.url}/token`,
      oauth2RevokeUrl: `${emulator.url}/revoke`,
      tokenInfoUrl: `${emulator.url}/tokeninfo`,
    },
  });
}

/** gaxios retries 429/5xx by default; tests want to see each answer once. */
function gmailFor(emulator: GmailEmulator, auth: OAuth2Client): gmail_v1.Gmail {
  return google.gmail({ version: 'v1', auth, rootUrl: `${emulator.url}/`, retry: false });
}

function connectedClient(emulator: GmailEmulator, address = AGENT, forceRefreshOnFailure = true): { auth: OAuth2Client; gmail: gmail_v1.Gmail } {
  const auth = oauthClientFor(emulator, { forceRefreshOnFailure });
  const tokens = emulator.control.issueTokens(address, { clientId: CLIENT.clientId });
  auth.setCredentials({ access_token: tokens.access_token, refresh_token: tokens.refresh_token, expiry_date: Date.now() + 3_000_000 });
  return { auth, gmail: gmailFor(emulator, auth) };
}

async function consent(emulator: GmailEmulator, auth: OAuth2Client, loginHint: string) {
  const { codeVerifier, codeChallenge } = await auth.generateCodeVerifierAsync();
  const authUrl = auth.generateAuthUrl({
    access_type: 'offline',
    scope: [GMAIL_SCOPE],
    state: 'csrf-123',
    login_hint: loginHint,
    code_challenge: codeChallenge,
    code_challenge_method: CodeChallengeMethod.S256,
  });
  expect(authUrl.startsWith(`${emulator.url}/o/oauth2/v2/auth?`)).toBe(true);
  const response = await fetch(authUrl, { redirect: 'manual' });
  expect(response.status).toBe(302);
  return { location: new URL(response.headers.get('location')!), codeVerifier: codeVerifier! };
}

async function expectGaxiosError(promise: Promise<unknown>): Promise<GaxiosError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  // google-auth-library bundles its own gaxios copy, so instanceof cannot be used; check the shape.
  expect(error).toHaveProperty('response.status');
  return error as GaxiosError;
}

interface CapturedPush {
  authorization?: string;
  body: { message: { data: string; messageId: string; publishTime: string }; subscription: string };
}

async function startPushReceiver(status = 204): Promise<{ url: string; pushes: CapturedPush[]; close: () => Promise<void> }> {
  const pushes: CapturedPush[] = [];
  const readBody = async (request: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const server: Server = createServer(async (request, response) => {
    pushes.push({ authorization: request.headers.authorization, body: JSON.parse(await readBody(request)) as CapturedPush['body'] });
    response.statusCode = status;
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`,
    pushes,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function verifyJwt(token: string, jwks: { keys: (JsonWebKey & { kid?: string })[] }): Record<string, unknown> {
  const [encodedHeader, encodedClaims, signature] = token.split('.');
  const header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString()) as { alg: string; kid: string };
  expect(header.alg).toBe('RS256');
  const jwk = jwks.keys.find((key) => key.kid === header.kid);
  expect(jwk).toBeDefined();
  const valid = createVerify('RSA-SHA256')
    .update(`${encodedHeader}.${encodedClaims}`)
    .verify(createPublicKey({ key: jwk!, format: 'jwk' }), Buffer.from(signature, 'base64url'));
  expect(valid).toBe(true);
  return JSON.parse(Buffer.from(encodedClaims, 'base64url').toString()) as Record<string, unknown>;
}

const NOW = Date.now();
const generated = generateMailbox({ seed: 11, address: AGENT, messages: 1300, olderThanWindow: 80, now: new Date(NOW) });

describe('Gmail emulator', () => {
  let emulator: GmailEmulator;

  beforeEach(async () => {
    emulator = await startGmailEmulator({ oauthClients: [CLIENT] });
  });
  afterEach(async () => {
    await emulator.close();
  });

  describe('OAuth', () => {
    it('I2 consent with PKCE redirects with code and state, and the code exchanges once for tokens that work', async () => {
      emulator.control.createAccount(AGENT);
      const auth = oauthClientFor(emulator);
      const { location, codeVerifier } = await consent(emulator, auth, AGENT);
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
      expect(location.searchParams.get('state')).toBe('csrf-123');
      const code = location.searchParams.get('code')!;

      const { tokens } = await auth.getToken({ code, codeVerifier });
      expect(tokens).toMatchObject({ token_type: 'Bearer', scope: GMAIL_SCOPE });
      expect(tokens.access_token).toBeTruthy();
      expect(tokens.refresh_token).toBeTruthy();
      expect(tokens.expiry_date! - Date.now()).toBeGreaterThan(3_500_000);

      auth.setCredentials(tokens);
      const profile = await gmailFor(emulator, auth).users.getProfile({ userId: 'me' });
      expect(profile.data.emailAddress).toBe(AGENT);

      const reused = await expectGaxiosError(auth.getToken({ code, codeVerifier }));
      expect(reused.response?.status).toBe(400);
      expect(reused.response?.data).toMatchObject({ error: 'invalid_grant' });
      expect(emulator.control.tokenEndpointCalls().map((call) => [call.grantType, call.outcome])).toEqual([
        ['authorization_code', 'ok'],
        ['authorization_code', 'invalid_grant'],
      ]);
    });

    it('I2 rejects a code exchanged with the wrong PKCE verifier or redirect URI', async () => {
      const auth = oauthClientFor(emulator);
      const first = await consent(emulator, auth, AGENT);
      const wrongVerifier = await expectGaxiosError(auth.getToken({ code: first.location.searchParams.get('code')!, codeVerifier: 'x'.repeat(64) }));
      expect(wrongVerifier.response?.data).toEqual({ error: 'invalid_grant', error_description: 'Invalid code verifier.' });

      const second = await consent(emulator, auth, AGENT);
      const wrongRedirect = await expectGaxiosError(
        auth.getToken({ code: second.location.searchParams.get('code')!, codeVerifier: second.codeVerifier, redirect_uri: 'http://127.0.0.1:9/elsewhere' }),
      );
      expect(wrongRedirect.response?.data).toMatchObject({ error: 'redirect_uri_mismatch' });
    });

    it('I2 a denied consent redirects with error=access_denied and keeps the state', async () => {
      emulator.control.denyNextConsent();
      const { location } = await consent(emulator, oauthClientFor(emulator), AGENT);
      expect(location.searchParams.get('error')).toBe('access_denied');
      expect(location.searchParams.get('state')).toBe('csrf-123');
      expect(location.searchParams.get('code')).toBeNull();
    });

    it('I2 refreshes an expired access token transparently, without a new refresh token, and fails with invalid_grant once revoked', async () => {
      const { auth, gmail } = connectedClient(emulator);
      const refreshedTokens: Record<string, unknown>[] = [];
      auth.on('tokens', (tokens) => refreshedTokens.push({ ...tokens }));

      emulator.control.expireAccessTokens(AGENT);
      const profile = await gmail.users.getProfile({ userId: 'me' });
      expect(profile.data.emailAddress).toBe(AGENT);
      expect(emulator.control.tokenEndpointCalls().map((call) => call.grantType)).toEqual(['refresh_token']);
      expect(refreshedTokens).toHaveLength(1);
      expect(refreshedTokens[0].refresh_token).toBeUndefined();

      emulator.control.revokeRefreshTokens(AGENT);
      const revoked = await expectGaxiosError(gmail.users.getProfile({ userId: 'me' }));
      expect(revoked.response?.status).toBe(400);
      expect(revoked.response?.data).toEqual({ error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
    });

    it('I2 answers a missing or unknown bearer token with Google’s 401 envelope', async () => {
      const missing = await fetch(`${emulator.url}/gmail/v1/users/me/profile`);
      expect(missing.status).toBe(401);
      expect(((await missing.json()) as { error: { errors: { reason: string }[] } }).error.errors[0].reason).toBe('required');

      const unknown = await fetch(`${emulator.url}/gmail/v1/users/me/messages`, { headers: { authorization: 'Bearer ya29.nope' } });
      expect(unknown.status).toBe(401);
      expect(await unknown.json()).toEqual({
        error: {
          code: 401,
          message: expect.stringContaining('Request had invalid authentication credentials') as string,
          errors: [{ message: expect.any(String) as string, domain: 'global', reason: 'authError', location: 'Authorization', locationType: 'header' }],
          status: 'UNAUTHENTICATED',
        },
      });
    });
  });

  describe('reading mail', () => {
    beforeEach(() => {
      emulator.control.seedMailbox(generated.seed);
    });

    it('I3 lists the 30-day window newest first with after:<epochSeconds>, paging at 500', async () => {
      const { gmail } = connectedClient(emulator);
      const after = Math.floor(generated.truth.windowStart.getTime() / 1000);
      const pages: gmail_v1.Schema$ListMessagesResponse[] = [];
      let pageToken: string | undefined;
      do {
        const { data } = await gmail.users.messages.list({ userId: 'me', q: `after:${after}`, maxResults: 1000, pageToken });
        pages.push(data);
        pageToken = data.nextPageToken ?? undefined;
      } while (pageToken);

      expect(pages.map((page) => page.messages?.length)).toEqual([500, 500, generated.truth.insideWindow - 1000]);
      expect(pages[0].resultSizeEstimate).toBe(generated.truth.insideWindow);
      const ids = pages.flatMap((page) => page.messages!.map((message) => message.id!));
      expect(new Set(ids).size).toBe(generated.truth.insideWindow);

      const stored = new Map(emulator.control.listMessages(AGENT).map((message) => [message.id, message.internalDate.getTime()]));
      const times = ids.map((id) => stored.get(id)!);
      expect(times.every((time, index) => index === 0 || time <= times[index - 1])).toBe(true);
      expect(Math.min(...times)).toBeGreaterThanOrEqual(after * 1000);

      const older = await gmail.users.messages.list({ userId: 'me', q: `before:${after}`, maxResults: 500 });
      expect(older.data.messages).toHaveLength(generated.truth.outsideWindow);
    });

    it('I3 gets a message as raw, full and metadata, matching the seeded MIME', async () => {
      const { gmail } = connectedClient(emulator);
      const index = generated.truth.messages.findIndex((fact) => fact.hasAttachment && fact.kind === 'ordinary');
      const fact = generated.truth.messages[index];
      const id = emulator.control.listMessages(AGENT).find((message) => message.rfc822MessageId === fact.messageId)!.id;

      const raw = await gmail.users.messages.get({ userId: 'me', id, format: 'raw' });
      expect(Buffer.from(raw.data.raw!, 'base64url').toString('utf8')).toBe(generated.seed.messages[index].raw);
      expect(raw.data).toMatchObject({ id, labelIds: ['INBOX', 'UNREAD', 'CATEGORY_PERSONAL'], internalDate: String(fact.receivedAt.getTime()) });
      expect(raw.data.sizeEstimate).toBe(Buffer.byteLength(generated.seed.messages[index].raw));

      const full = await gmail.users.messages.get({ userId: 'me', id, format: 'full' });
      const payload = full.data.payload!;
      expect(payload.mimeType).toBe('multipart/mixed');
      expect(payload.headers!.find((header) => header.name === 'Subject')!.value).toBe(fact.subject);
      const [alternative, attachment] = payload.parts!;
      expect(alternative.partId).toBe('0');
      expect(alternative.parts!.map((part) => [part.partId, part.mimeType])).toEqual([
        ['0.0', 'text/plain'],
        ['0.1', 'text/html'],
      ]);
      const parsed = await simpleParser(generated.seed.messages[index].raw);
      expect(Buffer.from(alternative.parts![0].body!.data!, 'base64url').toString('utf8')).toBe(parsed.text?.replace(/\n/g, '\r\n'));
      expect(full.data.snippet).toBe(parsed.text!.replace(/\s+/g, ' ').trim().slice(0, 200).replace(/'/g, '&#39;'));
      expect(attachment).toMatchObject({ partId: '1', mimeType: 'application/pdf', filename: expect.stringMatching(/\.pdf$/) as string });
      expect(attachment.body!.data).toBeUndefined();
      const fetched = await gmail.users.messages.attachments.get({ userId: 'me', messageId: id, id: attachment.body!.attachmentId! });
      expect(Buffer.from(fetched.data.data!, 'base64url')).toEqual(parsed.attachments[0].content);
      expect(fetched.data.size).toBe(attachment.body!.size);

      const metadata = await gmail.users.messages.get({ userId: 'me', id, format: 'metadata', metadataHeaders: ['Message-ID', 'From'] });
      expect(metadata.data.payload!.headers!.map((header) => header.name).sort()).toEqual(['From', 'Message-ID']);
      expect(metadata.data.payload!.parts).toBeUndefined();
      expect(metadata.data.raw).toBeUndefined();
    });

    it('I3 hides SPAM from list unless includeSpamTrash, and reports a move back to INBOX as labelsAdded', async () => {
      const { gmail } = connectedClient(emulator);
      const [newest] = emulator.control.listMessages(AGENT);
      emulator.control.modifyLabels(AGENT, newest.id, ['SPAM'], ['INBOX']);
      const baseline = emulator.control.historyId(AGENT);

      const inbox = await gmail.users.messages.list({ userId: 'me', labelIds: ['INBOX'], maxResults: 1 });
      expect(inbox.data.messages![0].id).not.toBe(newest.id);
      expect(inbox.data.resultSizeEstimate).toBe(generated.seed.messages.length - 1);
      const withSpam = await gmail.users.messages.list({ userId: 'me', includeSpamTrash: true, maxResults: 1 });
      expect(withSpam.data.messages![0].id).toBe(newest.id);

      emulator.control.modifyLabels(AGENT, newest.id, ['INBOX'], ['SPAM']);
      const history = await gmail.users.history.list({ userId: 'me', startHistoryId: baseline, historyTypes: ['labelAdded'] });
      expect(history.data.history!.map((record) => record.labelsAdded)).toEqual([
        [{ message: { id: newest.id, threadId: newest.threadId, labelIds: ['UNREAD', 'CATEGORY_PERSONAL', 'INBOX'] }, labelIds: ['INBOX'] }],
      ]);
    });

    it('I3 answers an unknown message id with Google’s 404 envelope', async () => {
      const { gmail } = connectedClient(emulator);
      const error = await expectGaxiosError(gmail.users.messages.get({ userId: 'me', id: '18f0000000ffffff' }));
      expect(error.response?.status).toBe(404);
      expect(error.response?.data).toEqual({
        error: {
          code: 404,
          message: 'Requested entity was not found.',
          errors: [{ message: 'Requested entity was not found.', domain: 'global', reason: 'notFound' }],
          status: 'NOT_FOUND',
        },
      });
    });

    it('I3 history.list returns new mail after a baseline, pages, and 404s on 0, garbage and expired ids', async () => {
      const { gmail } = connectedClient(emulator);
      const baseline = (await gmail.users.getProfile({ userId: 'me' })).data.historyId!;
      const arrivals = Array.from({ length: 3 }, (_, index) =>
        emulator.control.deliver(AGENT, {
          raw: buildRawMessage({ from: `c${index}@acme.test`, to: AGENT, subject: `New ${index}`, body: 'hello', messageId: `new-${index}@acme.test`, date: new Date() }),
          receivedAt: new Date(),
          threadKey: `new-${index}`,
        }),
      );

      const firstPage = await gmail.users.history.list({ userId: 'me', startHistoryId: baseline, historyTypes: ['messageAdded'], maxResults: 2 });
      expect(firstPage.data.history!.map((record) => record.messagesAdded![0].message!.id)).toEqual(arrivals.slice(0, 2).map((arrival) => arrival.id));
      expect(firstPage.data.history![0].messagesAdded![0].message!.labelIds).toContain('INBOX');
      expect(firstPage.data.nextPageToken).toBeTruthy();
      const secondPage = await gmail.users.history.list({ userId: 'me', startHistoryId: baseline, pageToken: firstPage.data.nextPageToken! });
      expect(secondPage.data.history!.map((record) => record.messages![0].id)).toEqual([arrivals[2].id]);
      expect(secondPage.data.nextPageToken).toBeUndefined();
      expect(secondPage.data.historyId).toBe(emulator.control.historyId(AGENT));
      const ids = [...firstPage.data.history!, ...secondPage.data.history!].map((record) => Number(record.id));
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);

      for (const startHistoryId of ['0', 'garbage']) {
        const error = await expectGaxiosError(gmail.users.history.list({ userId: 'me', startHistoryId }));
        expect(error.response?.status).toBe(404);
      }

      emulator.control.expireHistory(AGENT);
      const stale = await expectGaxiosError(gmail.users.history.list({ userId: 'me', startHistoryId: baseline }));
      expect(stale.response?.status).toBe(404);
      const freshBaseline = (await gmail.users.getProfile({ userId: 'me' })).data.historyId!;
      const fresh = await gmail.users.history.list({ userId: 'me', startHistoryId: freshBaseline });
      expect(fresh.data.history).toBeUndefined();
      expect(fresh.data.historyId).toBe(freshBaseline);
    });
  });

  describe('push', () => {
    it('I3 watch answers with historyId and a 7-day expiration, and new mail triggers a signed Pub/Sub push the receiver can verify', async () => {
      const receiver = await startPushReceiver();
      try {
        const topicName = 'projects/emu/topics/gmail';
        emulator.control.setPushEndpoint(topicName, receiver.url, 'https://deskbridge.test/push');
        const { gmail } = connectedClient(emulator);
        const watch = await gmail.users.watch({ userId: 'me', requestBody: { topicName, labelIds: ['INBOX'], labelFilterBehavior: 'INCLUDE' } });
        expect(watch.data.historyId).toBe(emulator.control.historyId(AGENT));
        expect(Number(watch.data.expiration) - Date.now()).toBeGreaterThan(7 * 86_400_000 - 60_000);

        const arrival = emulator.control.deliver(AGENT, { ...generated.seed.messages[0], receivedAt: new Date() });
        await emulator.control.waitForPushes();
        expect(receiver.pushes).toHaveLength(1);
        const [push] = receiver.pushes;
        expect(push.body.subscription).toBe('projects/emu/subscriptions/deskbridge');
        expect(JSON.parse(Buffer.from(push.body.message.data, 'base64').toString())).toEqual({ emailAddress: AGENT, historyId: Number(arrival.historyId) });

        const jwks = (await (await fetch(`${emulator.url}/oauth2/v3/certs`)).json()) as { keys: (JsonWebKey & { kid?: string })[] };
        const claims = verifyJwt(push.authorization!.replace(/^Bearer /, ''), jwks);
        expect(claims).toMatchObject({
          iss: 'https://accounts.google.com',
          aud: 'https://deskbridge.test/push',
          email: 'gmail-api-push@system.gserviceaccount.com',
          email_verified: true,
        });
        expect(claims.exp as number).toBeGreaterThan(Date.now() / 1000);

        // Mail outside the watched labels does not notify, and stop ends notifications.
        emulator.control.deliver(AGENT, { ...generated.seed.messages[1], receivedAt: new Date(), folder: 'sent' });
        await gmail.users.stop({ userId: 'me' });
        emulator.control.deliver(AGENT, { ...generated.seed.messages[2], receivedAt: new Date() });
        await emulator.control.waitForPushes();
        expect(receiver.pushes).toHaveLength(1);
      } finally {
        await receiver.close();
      }
    });

    it('I6 injected push faults drop a notification or deliver the same Pub/Sub message twice', async () => {
      const receiver = await startPushReceiver();
      try {
        const topicName = 'projects/emu/topics/gmail';
        emulator.control.setPushEndpoint(topicName, receiver.url);
        const { gmail } = connectedClient(emulator);
        await gmail.users.watch({ userId: 'me', requestBody: { topicName } });

        emulator.control.injectFaults({ dropPush: { next: 1 } });
        emulator.control.deliver(AGENT, { ...generated.seed.messages[0], receivedAt: new Date() });
        await emulator.control.waitForPushes();
        expect(receiver.pushes).toHaveLength(0);
        expect(emulator.control.pushDeliveries().map((delivery) => delivery.dropped)).toEqual([true]);

        emulator.control.injectFaults({ duplicatePush: { next: 1 } });
        emulator.control.deliver(AGENT, { ...generated.seed.messages[1], receivedAt: new Date() });
        await emulator.control.waitForPushes();
        expect(receiver.pushes).toHaveLength(2);
        expect(receiver.pushes[0].body.message.messageId).toBe(receiver.pushes[1].body.message.messageId);
        expect(receiver.pushes[0].body.message.data).toBe(receiver.pushes[1].body.message.data);
      } finally {
        await receiver.close();
      }
    });

    it('I3 retries a push the receiver does not acknowledge', async () => {
      const receiver = await startPushReceiver(503);
      const retrying = await startGmailEmulator({ push: { maxAttempts: 3, retryBaseDelayMs: 5 } });
      try {
        retrying.control.setPushEndpoint('projects/emu/topics/gmail', receiver.url);
        const { gmail } = connectedClient(retrying);
        await gmail.users.watch({ userId: 'me', requestBody: { topicName: 'projects/emu/topics/gmail' } });
        retrying.control.deliver(AGENT, { ...generated.seed.messages[0], receivedAt: new Date() });
        await retrying.control.waitForPushes();
        expect(receiver.pushes).toHaveLength(3);
        expect(retrying.control.pushDeliveries()[0].attempts).toEqual([503, 503, 503]);
      } finally {
        await retrying.close();
        await receiver.close();
      }
    });
  });

  describe('sending', () => {
    it('I9 messages.send stores a SENT copy in the same thread that comes back through history', async () => {
      const { gmail } = connectedClient(emulator);
      const [incoming] = emulator.control.seedMailbox({ address: AGENT, messages: [generated.seed.messages[0]] }).messageIds;
      const baseline = (await gmail.users.getProfile({ userId: 'me' })).data.historyId!;
      const original = generated.truth.messages[0];
      const reply = buildRawMessage({
        from: AGENT,
        to: original.fromAddress,
        subject: `Re: ${original.subject}`,
        body: 'We are on it.',
        messageId: '<reply-1@desk.example>',
        inReplyTo: original.messageId,
        references: [original.messageId],
        date: new Date(),
      });

      const sent = await gmail.users.messages.send({ userId: 'me', requestBody: { raw: Buffer.from(reply).toString('base64url'), threadId: incoming } });
      expect(sent.data).toMatchObject({ threadId: incoming, labelIds: ['SENT'] });

      const history = await gmail.users.history.list({ userId: 'me', startHistoryId: baseline, historyTypes: ['messageAdded'] });
      expect(history.data.history!.map((record) => record.messagesAdded![0].message)).toEqual([{ id: sent.data.id, threadId: incoming, labelIds: ['SENT'] }]);
      const [copy] = emulator.control.sentMessages(AGENT);
      expect(copy.raw).toBe(reply);
      expect(copy.rfc822MessageId).toBe('<reply-1@desk.example>');
    });

    it('I9 threads a send without threadId by References, accepts the media upload form, and fills in a Message-ID', async () => {
      const { gmail } = connectedClient(emulator);
      const [incoming] = emulator.control.seedMailbox({ address: AGENT, messages: [generated.seed.messages[0]] }).messageIds;
      const original = generated.truth.messages[0];
      const rawReply = `To: ${original.fromAddress}\r\nSubject: Re: ${original.subject}\r\nIn-Reply-To: ${original.messageId}\r\nReferences: ${original.messageId}\r\n\r\nThanks!\r\n`;

      // googleapis builds the upload URL from the per-call rootUrl only, so it must be passed here too.
      const sent = await gmail.users.messages.send({ userId: 'me', media: { mimeType: 'message/rfc822', body: rawReply } }, { rootUrl: `${emulator.url}/` });
      expect(sent.data.threadId).toBe(incoming);
      expect(emulator.control.requestLog().at(-1)).toMatchObject({ path: '/upload/gmail/v1/users/me/messages/send', operation: 'messages.send', status: 200 });
      const [copy] = emulator.control.sentMessages(AGENT);
      expect(copy.raw).toMatch(/^From: agent@desk\.example\r\n/);
      expect(copy.rfc822MessageId).toMatch(/^<CAemu[0-9a-f]+@mail\.gmail\.com>$/);
    });

    it('I9 rejects a message without recipients with 400 invalidArgument', async () => {
      const { gmail } = connectedClient(emulator);
      const error = await expectGaxiosError(gmail.users.messages.send({ userId: 'me', requestBody: { raw: Buffer.from('Subject: x\r\n\r\nbody').toString('base64url') } }));
      expect(error.response?.status).toBe(400);
      expect(error.response?.data).toMatchObject({ error: { code: 400, message: 'Recipient address required', errors: [{ reason: 'invalidArgument' }] } });
      expect(emulator.control.sentMessages(AGENT)).toHaveLength(0);
    });
  });

  describe('quota and faults', () => {
    it('I3 spends per-user units per method and answers 429 rateLimitExceeded with Retry-After when they run out', async () => {
      let clock = Date.now();
      const limited = await startGmailEmulator({ quota: { unitsPerSecondPerUser: 12 }, now: () => clock });
      try {
        const { gmail } = connectedClient(limited);
        limited.control.seedMailbox({ address: AGENT, messages: generated.seed.messages.slice(0, 3) });
        const [id] = limited.control.listMessages(AGENT).map((message) => message.id);
        await gmail.users.messages.get({ userId: 'me', id });
        await gmail.users.messages.get({ userId: 'me', id });
        await gmail.users.history.list({ userId: 'me', startHistoryId: limited.control.historyId(AGENT) });
        const error = await expectGaxiosError(gmail.users.messages.get({ userId: 'me', id }));
        expect(error.response?.status).toBe(429);
        expect(error.response?.headers.get('retry-after')).toBe('1');
        expect(error.response?.data).toMatchObject({ error: { code: 429, errors: [{ reason: 'rateLimitExceeded' }], status: 'RESOURCE_EXHAUSTED' } });

        clock += 500; // refills 6 units, enough for one more get
        await gmail.users.messages.get({ userId: 'me', id });
        expect(limited.control.requestCounts()).toMatchObject({ 'messages.get': 4, 'history.list': 1 });
      } finally {
        await limited.close();
      }
    });

    it('I3 can answer quota exhaustion as 403 userRateLimitExceeded, and the bound formula matches the published numbers', async () => {
      const limited = await startGmailEmulator({ quota: { unitsPerSecondPerUser: 250, exceededStatus: 403 } });
      try {
        const { gmail } = connectedClient(limited, AGENT, false);
        limited.control.injectFaults({ quotaExceeded: { next: 1 } });
        const error = await expectGaxiosError(gmail.users.getProfile({ userId: 'me' }));
        expect(error.response?.status).toBe(403);
        expect(error.response?.data).toEqual({
          error: {
            code: 403,
            message: 'User Rate Limit Exceeded',
            errors: [{ message: 'User Rate Limit Exceeded', domain: 'usageLimits', reason: 'userRateLimitExceeded' }],
            status: 'PERMISSION_DENIED',
          },
        });
        await expect(gmail.users.getProfile({ userId: 'me' })).resolves.toMatchObject({ status: 200 });
      } finally {
        await limited.close();
      }
      expect(quotaBoundMsgPerSec({ unitsPerSecondPerUser: 250 })).toBeCloseTo(49.9, 1);
      expect(quotaBoundMsgPerSec({ unitsPerSecondPerUser: 100, costs: { messagesGet: 20 } })).toBeCloseTo(4.998, 2);
    });

    it('I3 injected server errors answer 500 backendError for the next N calls, then recover', async () => {
      const { gmail } = connectedClient(emulator);
      emulator.control.injectFaults({ serverError: { next: 2 } });
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const error = await expectGaxiosError(gmail.users.messages.list({ userId: 'me' }));
        expect(error.response?.status).toBe(500);
        expect(error.response?.data).toMatchObject({ error: { errors: [{ reason: 'backendError' }] } });
      }
      const ok = await gmail.users.messages.list({ userId: 'me' });
      expect(ok.data).toEqual({ resultSizeEstimate: 0 });
      expect(emulator.control.requestLog().map((entry) => entry.status)).toEqual([500, 500, 200]);
    });

    it('I3 injected latency delays API answers', async () => {
      const { gmail } = connectedClient(emulator);
      emulator.control.injectFaults({ latencyMs: 150 });
      const started = Date.now();
      await gmail.users.getProfile({ userId: 'me' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });
  });

  describe('HTTP control surface', () => {
    it('I3 seeds, delivers and reports through /_emulator routes', async () => {
      const post = (path: string, body: unknown) =>
        fetch(`${emulator.url}/_emulator${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await post('/accounts', { address: 'ops@desk.example' })).status).toBe(201);
      const seeded = (await (await post('/accounts/ops@desk.example/seed', { messages: generated.seed.messages.slice(0, 5) })).json()) as { messageIds: string[] };
      expect(seeded.messageIds).toHaveLength(5);
      const delivered = (await (await post('/accounts/ops@desk.example/deliver', { raw: generated.seed.messages[5].raw, threadKey: 'x' })).json()) as { id: string };
      const tokens = (await (await post('/accounts/ops@desk.example/tokens', { clientId: CLIENT.clientId })).json()) as { access_token: string };

      const list = await fetch(`${emulator.url}/gmail/v1/users/ops@desk.example/messages`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      const body = (await list.json()) as { messages: { id: string }[] };
      expect(body.messages).toHaveLength(6);
      expect(body.messages[0].id).toBe(delivered.id);

      const other = await fetch(`${emulator.url}/gmail/v1/users/${AGENT}/messages`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(other.status).toBe(403);

      const counts = (await (await fetch(`${emulator.url}/_emulator/request-counts`)).json()) as Record<string, number>;
      expect(counts['messages.list']).toBe(2);
      expect((await post('/faults', { serverError: { next: 'x' } })).status).toBe(400);
    });
  });
});
