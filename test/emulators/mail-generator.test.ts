import { simpleParser } from 'mailparser';
import { buildRawMessage, generateMailbox, type GenerateMailboxOptions } from '../../emulators/mail/generate';

const NOW = new Date('2026-06-15T12:00:00Z');
const DAY_MS = 86_400_000;

const baseOptions: GenerateMailboxOptions = {
  seed: 7,
  address: 'agent@desk.example',
  messages: 400,
  threads: 90,
  now: NOW,
  domains: 12,
  olderThanWindow: 25,
  mix: { autoReplies: 0.05, bounces: 0.03, bulk: 0.1, attachments: 0.2 },
};

function headerBlock(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n'));
}

describe('mailbox generator', () => {
  const { seed, truth } = generateMailbox(baseOptions);

  it('I3 is deterministic for a seed and varies across seeds', () => {
    const again = generateMailbox(baseOptions);
    expect(again.seed.messages.map((message) => message.raw)).toEqual(seed.messages.map((message) => message.raw));
    expect(again.truth).toEqual(truth);
    const other = generateMailbox({ ...baseOptions, seed: 8 });
    expect(other.seed.messages.map((message) => message.raw)).not.toEqual(seed.messages.map((message) => message.raw));
  });

  it('I3 produces exactly the requested counts, with received times inside or outside the window as stated', () => {
    expect(seed.messages).toHaveLength(400);
    expect(truth.outsideWindow).toBe(25);
    expect(truth.insideWindow).toBe(375);
    expect(truth.autoReplyMessageIds).toHaveLength(20);
    expect(truth.bounceMessageIds).toHaveLength(12);
    expect(truth.bulkMessageIds).toHaveLength(40);
    expect(truth.automatedMessageIds).toHaveLength(72);
    expect(truth.ticketThreadKeys).toHaveLength(90);
    expect(truth.windowStart.getTime()).toBe(NOW.getTime() - 30 * DAY_MS);
    seed.messages.forEach((message, index) => {
      const inside = message.receivedAt.getTime() >= truth.windowStart.getTime() && message.receivedAt.getTime() <= NOW.getTime();
      expect(inside).toBe(truth.messages[index].insideWindow);
    });
    expect(truth.senderDomains.length).toBeLessThanOrEqual(12);
    expect(truth.senderDomains.length).toBeGreaterThan(5);
  });

  it('I12 marks auto-replies, bounces and bulk mail with the headers real senders use, and nothing else', () => {
    seed.messages.forEach((message, index) => {
      const headers = headerBlock(message.raw);
      const fact = truth.messages[index];
      const autoReplyMarker = /^(Auto-Submitted: auto-replied|X-Autoreply: yes)$/m.test(headers);
      const bounceMarker = /^From: .*<MAILER-DAEMON@/m.test(headers) && /multipart\/report;.*report-type=delivery-status/.test(headers);
      const bulkMarker = /^Precedence: (bulk|list)$/m.test(headers) && /^List-Id: /m.test(headers) && /^List-Unsubscribe: /m.test(headers);
      expect([autoReplyMarker, bounceMarker, bulkMarker]).toEqual([fact.kind === 'auto-reply', fact.kind === 'bounce', fact.kind === 'bulk']);
    });
    // Both auto-reply conventions appear, so an importer must recognise each of them.
    const autoReplyHeaders = truth.autoReplyMessageIds.map((id) => headerBlock(seed.messages[truth.messages.findIndex((fact) => fact.messageId === id)].raw));
    expect(autoReplyHeaders.some((headers) => headers.includes('Auto-Submitted: auto-replied'))).toBe(true);
    expect(autoReplyHeaders.some((headers) => headers.includes('X-Autoreply: yes') && !headers.includes('Auto-Submitted'))).toBe(true);
  });

  it('I6 chains replies in a thread through In-Reply-To and References, with unique Message-IDs', () => {
    const allIds = truth.messages.map((fact) => fact.messageId);
    expect(new Set(allIds).size).toBe(allIds.length);
    const byId = new Map(truth.messages.map((fact, index) => [fact.messageId, seed.messages[index]]));
    let replies = 0;
    for (const ids of Object.values(truth.threads)) {
      ids.forEach((id, position) => {
        const raw = byId.get(id)!.raw;
        const headers = headerBlock(raw).replace(/\r\n\s+/g, ' ');
        expect(byId.get(id)!.threadKey).toBe(truth.messages.find((fact) => fact.messageId === id)!.threadKey);
        if (position === 0) {
          expect(headers).not.toMatch(/^In-Reply-To:/m);
          return;
        }
        replies += 1;
        expect(headers).toMatch(new RegExp(`^In-Reply-To: ${ids[position - 1]}$`, 'm'));
        expect(headers).toMatch(new RegExp(`^References: ${ids.slice(0, position).join(' ')}$`, 'm'));
        expect(truth.messages.find((fact) => fact.messageId === id)!.subject).toMatch(/^Re: /);
      });
      const times = ids.map((id) => truth.messages.find((fact) => fact.messageId === id)!.receivedAt.getTime());
      expect([...times].sort((a, b) => a - b)).toEqual(times);
    }
    expect(replies).toBeGreaterThan(100);
  });

  it('I3 writes valid CRLF MIME that mailparser reads back as the truth describes', async () => {
    expect(seed.messages.every((message) => !/[^\r]\n/.test(message.raw))).toBe(true);
    let nonAscii = 0;
    for (const [index, message] of seed.messages.entries()) {
      const fact = truth.messages[index];
      const parsed = await simpleParser(message.raw);
      expect(parsed.messageId).toBe(fact.messageId);
      expect(parsed.subject).toBe(fact.subject);
      expect(parsed.from?.value[0].address).toBe(fact.fromAddress);
      expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value[0].address : undefined).toBe('agent@desk.example');
      expect(parsed.text?.trim().length).toBeGreaterThan(10);
      expect(parsed.attachments.filter((attachment) => attachment.contentDisposition === 'attachment')).toHaveLength(fact.hasAttachment ? 1 : 0);
      if (fact.kind === 'ordinary') expect(parsed.html).toContain('<p>');
      if (/[^\x00-\x7f]/.test(fact.subject)) {
        nonAscii += 1;
        expect(message.raw).toMatch(/^Subject: (Re: )?=\?UTF-8\?B\?/m);
      }
    }
    expect(nonAscii).toBeGreaterThan(0);
    expect(truth.attachmentMessageIds.length).toBe(Math.round((400 - 72) * 0.2));
  });

  // How fast it generates is the mailbox-import benchmark's business, not a test's.
  it('I3 generates a benchmark-sized mailbox of 5,000 messages, split by the 30-day window as asked', () => {
    const big = generateMailbox({ seed: 1, address: 'big@desk.example', messages: 5000, olderThanWindow: 200, now: NOW });
    expect(big.seed.messages).toHaveLength(5000);
    expect(big.truth.outsideWindow).toBe(200);
    expect(big.truth.insideWindow + big.truth.outsideWindow).toBe(5000);
  });

  it('I3 refuses a mix that does not fit in the message total', () => {
    expect(() => generateMailbox({ ...baseOptions, messages: 10, olderThanWindow: 9, mix: { bulk: 0.5 } })).toThrow(/exceeds messages/);
  });

  it('I6 buildRawMessage crafts a single reply with non-ASCII text and an attachment', async () => {
    const raw = buildRawMessage({
      from: 'Zoë Kraus <zoe@kunde.example>',
      to: 'agent@desk.example',
      subject: 'Re: Größe der Rechnung',
      body: 'Grüße aus Köln\n\nSiehe Anhang.',
      messageId: 'reply-1@kunde.example',
      inReplyTo: '<first@kunde.example>',
      references: ['<first@kunde.example>'],
      date: new Date('2026-06-01T10:00:00Z'),
      headers: { 'X-Custom': 'yes' },
      attachments: [{ filename: 'rechnung.pdf', contentType: 'application/pdf', content: Buffer.from('%PDF-1.4 test') }],
      bodyEncoding: 'base64',
    });
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe('Re: Größe der Rechnung');
    expect(parsed.from?.value[0]).toEqual({ name: 'Zoë Kraus', address: 'zoe@kunde.example' });
    expect(parsed.messageId).toBe('<reply-1@kunde.example>');
    expect(parsed.inReplyTo).toBe('<first@kunde.example>');
    expect(parsed.references).toBe('<first@kunde.example>');
    expect(parsed.date?.toISOString()).toBe('2026-06-01T10:00:00.000Z');
    expect(parsed.text).toContain('Grüße aus Köln');
    expect(parsed.headers.get('x-custom')).toBe('yes');
    expect(parsed.attachments[0].filename).toBe('rechnung.pdf');
    expect(parsed.attachments[0].content.toString()).toBe('%PDF-1.4 test');
  });
});
