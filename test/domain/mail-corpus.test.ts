import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { automatedMailReason, parseRawMessage, threadLookupKeys, type AutomatedMailReason } from '../../domain/mail';

const CORPUS_DIR = join(__dirname, '..', 'fixtures', 'eml');

function readSample(file: string): Buffer {
  return readFileSync(join(CORPUS_DIR, file));
}

const EXPECTED_CLASSIFICATION: Record<string, AutomatedMailReason | null> = {
  'mailparser-delivery-status.eml': 'bounce',
  'mail-report-422.eml': 'bounce',
  'flanker-gmail-invalid-address.eml': 'bounce',
  'flanker-disposition-notification.eml': 'auto-reply',
  'flanker-apache-message-news.eml': 'bulk',
  'mail-empty-in-reply-to.eml': 'bulk',
  'mail-raw-email-reply.eml': null,
  'mail-attachment-with-encoded-name.eml': null,
  'mail-image-in-the-middle.eml': null,
  'mail-japanese-iso-2022.eml': null,
  'mail-quoted-printable.eml': null,
  'mail-bad-encoded-subject.eml': null,
  'zbateson-m0001.eml': null,
  'synthetic-exchange-out-of-office.eml': 'auto-reply',
  'synthetic-exchange-oof-legacy-no-auto-submitted.eml': 'auto-reply',
  'synthetic-outlook-reply-windows-1252-inline-image.eml': null,
  'synthetic-newsletter-list-unsubscribe.eml': 'bulk',
  'synthetic-vacation-x-autoreply.eml': 'auto-reply',
};

describe('mail corpus', () => {
  it('I12 When the corpus is listed Then every sample has an expected classification and vice versa', () => {
    const samples = readdirSync(CORPUS_DIR).filter((file) => file.endsWith('.eml')).sort();
    expect(samples).toEqual(Object.keys(EXPECTED_CLASSIFICATION).sort());
  });

  it.each(Object.entries(EXPECTED_CLASSIFICATION))(
    'I12 When %s is imported Then it is classified as %s',
    async (file, expected) => {
      const mail = await parseRawMessage(readSample(file));
      expect(automatedMailReason(mail)).toBe(expected);
    },
  );

  it('I6 When a Thunderbird reply is parsed Then its parent comes first and References are walked newest first', async () => {
    const mail = await parseRawMessage(readSample('mail-raw-email-reply.eml'));
    expect(mail.messageId).toBe('473FFE27.20003@xxx.org');
    expect(threadLookupKeys(mail, 'gmail-thread-1')).toEqual([
      { kind: 'provider-thread', id: 'gmail-thread-1' },
      { kind: 'message-id', id: '348F04F142D69C21-291E56D292BC@xxxx.net' },
      { kind: 'message-id', id: '473FF3B8.9020707@xxx.org' },
    ]);
  });

  it('I6 When In-Reply-To is present but empty Then no thread key is invented from it', async () => {
    const mail = await parseRawMessage(readSample('mail-empty-in-reply-to.eml'));
    expect(mail.inReplyTo).toEqual([]);
    expect(threadLookupKeys(mail, undefined)).toEqual([]);
    // The first Return-Path is the one the delivering MTA wrote.
    expect(mail.headers['return-path']).toBe('<ak@g.com>');
  });

  it('I7 When an Outlook reply in windows-1252 carries an inline image Then text, sender and cid metadata survive', async () => {
    const mail = await parseRawMessage(readSample('synthetic-outlook-reply-windows-1252-inline-image.eml'));
    expect(mail.subject).toBe('RE: Invoice 1042 – question on “line 3”');
    expect(mail.from).toEqual({ address: 'jane.doe@client.example', name: 'Doe, Jane' });
    expect(mail.text).toContain('Hi Sam – the total on “line 3” looks wrong');
    expect(mail.html).toContain('src="cid:image001.png@01DAE6F0.12345670"');
    expect(mail.attachments).toEqual([
      { filename: 'image001.png', contentType: 'image/png', size: 70, contentId: 'image001.png@01DAE6F0.12345670', inline: true },
    ]);
    expect(mail.references).toEqual(['CAF1first=Msg@mail.gmail.com', 'CAF9kLp2Zq8xv3=Rt6uYw@mail.gmail.com']);
  });

  it('I7 When Outlook 2000 wrote raw ISO-8859-1 bytes into the headers Then names and subject are decoded, not replaced', async () => {
    const mail = await parseRawMessage(readSample('zbateson-m0001.eml'));
    expect(mail.subject).toBe('Die Hasen und die Frösche (Microsoft Outlook 00)');
    expect(mail.to).toEqual([{ address: 'schmuergen@example.com', name: 'Jürgen Schmürgen' }]);
    expect(mail.text).toContain('Die Hasen klagten einst über ihre mißliche Lage');
    expect(mail.date?.toISOString()).toBe('2000-05-17T23:08:29.000Z');
  });

  it('I7 When the body is ISO-2022-JP and the subject a UTF-8 encoded-word Then both decode', async () => {
    const mail = await parseRawMessage(readSample('mail-japanese-iso-2022.eml'));
    expect(mail.subject).toBe('まみむめも');
    expect(mail.to).toEqual([{ address: 'raasdnil@gmail.com', name: 'みける' }]);
    expect(mail.text?.trim()).toBe('すみません。');
  });

  it('I7 When an attachment has an RFC 2231 encoded name Then only its metadata is kept', async () => {
    const mail = await parseRawMessage(readSample('mail-attachment-with-encoded-name.eml'));
    expect(mail.attachments).toHaveLength(1);
    const [attachment] = mail.attachments;
    expect(attachment?.filename).toMatch(/^01 Quien Te Dij.*at\. Pitbull\.mp3$/);
    expect(attachment?.inline).toBe(false);
    expect(attachment?.size).toBeGreaterThan(0);
    expect(Object.keys(attachment ?? {}).sort()).toEqual(['contentId', 'contentType', 'filename', 'inline', 'size']);
  });

  it('I7 When an Apple Mail message puts an image between html parts Then the image is inline and html is kept as sent', async () => {
    const mail = await parseRawMessage(readSample('mail-image-in-the-middle.eml'));
    expect(mail.attachments.map(({ filename, inline }) => ({ filename, inline }))).toEqual([
      { filename: 'IMG_2583.jpeg', inline: true },
    ]);
    expect(mail.html).toContain('Apple Mail</a>');
    expect(mail.messageId).toBeUndefined();
  });

  it('I12 When malformed samples are parsed Then what can be read is returned and the rest is undefined', async () => {
    const badSubject = await parseRawMessage(readSample('mail-bad-encoded-subject.eml'));
    expect(badSubject.text?.trim()).toBe('TEST');
    expect(badSubject.from).toBeUndefined();
    expect(badSubject.date).toBeUndefined();

    const headerless = await parseRawMessage(readSample('mail-quoted-printable.eml'));
    expect(headerless.text).toContain('Valid: 是');
    expect(headerless.subject).toBeUndefined();
    expect(headerless.messageId).toBeUndefined();
  });

  it('I12 When a delivery status notification is parsed Then its report type is exposed for the bounce rule', async () => {
    const mail = await parseRawMessage(readSample('mailparser-delivery-status.eml'));
    expect(mail.contentType).toEqual({ mimeType: 'multipart/report', reportType: 'delivery-status' });
    expect(mail.from?.address).toBe('mailer-daemon@amazonses.com');
  });
});
