import fc from 'fast-check';
import { isExcludedDomain, parseRawMessage, threadLookupKeys } from '../../domain/mail';

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const domain = fc.array(label, { minLength: 1, maxLength: 3 }).map((labels) => [...labels, 'example'].join('.'));

/** dot-atom msg-id halves (RFC 5322 §3.6.4), mixed case on purpose: ids are case-sensitive. */
const atom = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+\/=?^_`{|}~-]{1,12}$/);
const messageId = fc
  .tuple(fc.array(atom, { minLength: 1, maxLength: 3 }), fc.array(atom, { minLength: 1, maxLength: 3 }))
  .map(([left, right]) => `${left.join('.')}@${right.join('.')}`);

const spacing = fc.constantFrom('', ' ', '  ', '\t', '\r\n ', '\r\n\t');

/** Renders ids the many ways real mailers do: bracketed or bare, padded, folded across lines. */
function renderIds(ids: string[], bracketed: boolean, gaps: string[]): string {
  return ids
    .map((id, index) => {
      const gap = gaps[index % gaps.length] ?? ' ';
      // Brackets delimit ids on their own; bare ids need at least one whitespace between them.
      const separator = index === 0 ? '' : bracketed || gap !== '' ? gap : ' ';
      return `${separator}${bracketed ? `<${id}>` : id}`;
    })
    .join('');
}

describe('mail rule properties', () => {
  it('I5 When a domain merely ends with the excluded characters Then it is never excluded', () => {
    fc.assert(
      fc.property(domain, label, (excluded, prefix) => {
        // Glued without a dot: "notx.com" for "x.com".
        const lookalike = `${prefix}${excluded}`;
        return !isExcludedDomain(`someone@${lookalike}`, [excluded, `*.${excluded}`, `@${excluded}`]);
      }),
    );
  });

  it('I5 When the sender is on the excluded domain or any subdomain, in any case Then it is excluded', () => {
    fc.assert(
      fc.property(domain, fc.array(label, { maxLength: 3 }), (excluded, subdomains) => {
        const senderDomain = [...subdomains, excluded].join('.').toUpperCase();
        return isExcludedDomain(`someone@${senderDomain}`, [excluded]);
      }),
    );
  });

  it('I6 When header whitespace and brackets vary Then the thread lookup keys are the same', async () => {
    await fc.assert(
      fc.asyncProperty(
        messageId,
        fc.uniqueArray(messageId, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        fc.array(spacing, { minLength: 1, maxLength: 4 }),
        spacing,
        async (parent, references, bracketed, gaps, padding) => {
          const canonical = await parseRawMessage(
            `Message-ID: <own@x.example>\r\nIn-Reply-To: <${parent}>\r\nReferences: ${references.map((id) => `<${id}>`).join(' ')}\r\n\r\nbody`,
          );
          const variant = await parseRawMessage(
            `Message-ID: <own@x.example>\r\nIn-Reply-To:${padding || ' '}${bracketed ? `<${parent}>` : parent}${padding}\r\n` +
              `References:${padding || ' '}${renderIds(references, bracketed, gaps)}\r\n\r\nbody`,
          );
          expect(threadLookupKeys(variant, 'thread')).toEqual(threadLookupKeys(canonical, 'thread'));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('I12 When arbitrary bytes arrive as a message Then parsing never throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
        const mail = await parseRawMessage(Buffer.from(bytes));
        expect(Array.isArray(mail.attachments)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('I12 When header-shaped garbage arrives as a message Then parsing never throws', async () => {
    const headerish = fc
      .array(
        fc.tuple(
          fc.constantFrom('From', 'To', 'Subject', 'Content-Type', 'References', 'Message-ID', 'Date', 'Content-Transfer-Encoding'),
          fc.string({ maxLength: 60 }),
        ),
        { maxLength: 8 },
      )
      .map((headers) => headers.map(([name, value]) => `${name}: ${value}`).join('\r\n'));
    await fc.assert(
      fc.asyncProperty(headerish, fc.string({ maxLength: 200 }), async (headers, body) => {
        const mail = await parseRawMessage(`${headers}\r\n\r\n${body}`);
        expect(Array.isArray(mail.references)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
