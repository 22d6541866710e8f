import { generateMailbox } from '../../emulators/mail/generate';
import { TicketMessageModel } from '../../models';
import type { ManagedProcess } from '../../infra';
import { connectInbox, counts, createInbox, signUpSite, startMailTestBed, waitFor, waitForFollowing, type MailTestBed } from './support';

describe('mailbox import survives worker crashes (I2, I3, I6)', () => {
  let bed: MailTestBed;
  beforeAll(async () => {
    // Workers run as child processes here, so they can be killed.
    bed = await startMailTestBed({ worker: false });
  });
  afterAll(async () => {
    await bed?.stop();
  });

  // The issue asks for 2,000 messages; on FerretDB 1.24 (no secondary-index use) the import slows
  // as its collections grow, so the suite runs a size that finishes in CI. See the closing note.
  const messages = 300;
  const threads = 60;

  test('I3 I6 When the worker is SIGKILLed at random points of a 300-message backfill, Then every ticket and message is there exactly once', async () => {
    const site = await signUpSite(bed.system);
    const address = 'crash@desk.example';
    const { seed, truth } = generateMailbox({ seed: 2000, address, messages, threads, mix: { autoReplies: 0, bounces: 0, bulk: 0 } });
    bed.gmail.control.seedMailbox(seed);
    let worker: ManagedProcess = await bed.system.spawnWorkerProcess();
    const inbox = await createInbox(bed.system, site.token, { provider: 'gmail', importEmails: true });
    expect((await connectInbox(bed, site.token, inbox.id, address)).status).toBe(200);

    // Three kills at random message counts, each after the import has made some progress.
    const killAt = [0, 1, 2].map((i) => Math.floor(messages * (0.15 + i * 0.25) + Math.random() * messages * 0.1));
    for (const threshold of killAt) {
      await waitFor(`${threshold} messages`, () => counts(inbox.id), (c) => c.messages >= threshold || c.messages === messages, 180_000);
      if ((await counts(inbox.id)).messages === messages) break;
      worker.child.kill('SIGKILL');
      await new Promise((resolve) => worker.child.once('exit', resolve));
      worker = await bed.system.spawnWorkerProcess();
    }
    await waitForFollowing(inbox.id, 240_000);

    expect(truth.ticketThreadKeys).toHaveLength(threads);
    expect(await counts(inbox.id)).toEqual({ tickets: threads, messages });
    const distinct = await TicketMessageModel.distinct('rfcMessageId', { inboxId: inbox.id });
    expect(distinct).toHaveLength(messages);
  }, 420_000);
});
