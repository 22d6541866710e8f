import request from 'supertest';
import { generateMailbox, buildRawMessage } from '../../emulators/mail/generate';
import { mailProviderSettings } from '../../activities/mail/oauth';
import { MailTokenService } from '../../activities/mail/tokens';
import { InboxModel, OAuthConnectionModel } from '../../models';
import { bearer } from '../support/sites';
import { connectInbox, counts, createInbox, signUpSite, startMailTestBed, waitFor, waitForFollowing, type MailTestBed } from './support';

type Provider = 'gmail' | 'outlook';

describe('mailbox consent: refresh and revocation (I2)', () => {
  let bed: MailTestBed;
  beforeAll(async () => {
    // Small sequential batches, so a revocation lands in the middle of a backfill.
    bed = await startMailTestBed({ env: { MAILBOX_BATCH_SIZE: '10', MAILBOX_CONCURRENT_BATCHES: '1' } });
  });
  afterAll(async () => {
    await bed?.stop();
  });

  const refreshCalls = (provider: Provider) =>
    provider === 'gmail'
      ? bed.gmail.control.tokenEndpointCalls().filter((c) => c.grantType === 'refresh_token')
      : bed.graph.control.tokenEndpointCalls().filter((c) => c.grantType === 'refresh_token');
  const createAccount = (provider: Provider, address: string) => (provider === 'gmail' ? bed.gmail.control.createAccount(address) : bed.graph.control.createAccount(address));

  test.each<Provider>(['gmail', 'outlook'])('I2 (%s) When 40 callers in two processes need a fresh access token at once, Then exactly one refresh reaches the provider', async (provider) => {
    const site = await signUpSite(bed.system);
    const address = `refresh-${provider}@desk.test`;
    createAccount(provider, address);
    const inbox = await createInbox(bed.system, site.token, { provider, importEmails: false });
    expect((await connectInbox(bed, site.token, inbox.id, address)).status).toBe(200);
    await OAuthConnectionModel.updateOne({ inboxId: inbox.id }, { $set: { accessTokenExpiresAt: new Date(Date.now() - 1000) } });
    const before = await OAuthConnectionModel.findOne({ inboxId: inbox.id }).select('+refreshToken').lean();
    const callsBefore = refreshCalls(provider).length;

    // Two token services stand for two worker processes; each also single-flights its own callers.
    const settings = mailProviderSettings(bed.system.config);
    const processes = [new MailTokenService(bed.system.runtime.secrets, settings), new MailTokenService(bed.system.runtime.secrets, settings)];
    const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => processes[i % 2]!.accessToken(inbox.id)));

    expect(refreshCalls(provider).length - callsBefore).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    const after = await OAuthConnectionModel.findOne({ inboxId: inbox.id }).select('+refreshToken +accessToken').lean();
    expect(after!.accessTokenExpiresAt!.getTime()).toBeGreaterThan(Date.now());
    expect(bed.system.runtime.secrets.open(after!.accessToken as never)).toBe(tokens[0]);
    // Microsoft rotates the refresh token on every use; the newest one is what is kept.
    if (provider === 'outlook') expect(after!.refreshToken!.data).not.toBe(before!.refreshToken!.data);
  });

  test.each<Provider>(['gmail', 'outlook'])(
    'I2 (%s) When consent is revoked mid-backfill, Then the inbox needs a reconnect, the import pauses without provider calls, and reconnecting finishes it with exact counts',
    async (provider) => {
      const site = await signUpSite(bed.system);
      const address = `revoke-${provider}@desk.test`;
      const { seed, truth } = generateMailbox({ seed: 41, address, messages: 150, threads: 40, mix: { autoReplies: 0, bounces: 0, bulk: 0 } });
      if (provider === 'gmail') {
        bed.gmail.control.seedMailbox(seed);
        bed.gmail.control.injectFaults({ latencyMs: 150 });
      } else {
        await bed.graph.control.seedMailbox(seed);
        bed.graph.control.injectFaults({ latencyMs: 100 });
      }
      const inbox = await createInbox(bed.system, site.token, { provider, importEmails: true });
      expect((await connectInbox(bed, site.token, inbox.id, address)).status).toBe(200);
      await waitFor('the first imported messages', () => counts(inbox.id), (c) => c.messages > 0, 30_000);

      if (provider === 'gmail') bed.gmail.control.revokeRefreshTokens(address);
      else {
        bed.graph.control.revokeRefreshTokens(address);
        bed.graph.control.expireAccessTokens(address);
      }
      await waitFor('needs_reconnect', async () => (await InboxModel.findById(inbox.id).lean())!.status, (s) => s === 'needs_reconnect', 30_000);
      const progress = await waitFor(
        'the paused import',
        async () => (await request(bed.system.app).get(`/api/inboxes/${inbox.id}/import`).set(bearer(site.token))).body,
        (p) => p.state === 'paused',
        30_000,
      );
      expect(progress.backfillDone).toBe(false);
      const stalled = await counts(inbox.id);
      expect(stalled.messages).toBeLessThan(150);
      const refused = refreshCalls(provider).filter((c) => ('outcome' in c ? c.outcome : c.error) === 'invalid_grant').length;
      expect(refused).toBe(1);
      // Paused means quiet: no further token or API calls while consent is missing.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect(refreshCalls(provider).filter((c) => ('outcome' in c ? c.outcome : c.error) === 'invalid_grant').length).toBe(refused);
      expect(await counts(inbox.id)).toEqual(stalled);

      if (provider === 'gmail') bed.gmail.control.clearFaults();
      else bed.graph.control.clearFaults();
      // Mail arriving while disconnected is picked up after the reconnect too.
      const late = { raw: buildRawMessage({ from: 'Late <late@acme.test>', to: address, subject: 'While away', body: 'x', messageId: `<late-${provider}@acme.test>`, date: new Date() }), receivedAt: new Date(), threadKey: 'late' };
      if (provider === 'gmail') bed.gmail.control.deliver(address, late);
      else await bed.graph.control.deliver(address, late);

      expect((await connectInbox(bed, site.token, inbox.id, address)).status).toBe(200);
      await waitForFollowing(inbox.id);
      await waitFor('the late mail', () => counts(inbox.id), (c) => c.messages === 151, 30_000);
      expect(await counts(inbox.id)).toEqual({ tickets: truth.ticketThreadKeys.length + 1, messages: 151 });
      expect((await InboxModel.findById(inbox.id).lean())!.status).toBe('connected');
    },
  );
});
