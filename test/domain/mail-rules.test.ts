import {
  automatedMailReason,
  companyForDomain,
  customerNameFromAddress,
  domainOf,
  filterDecision,
  isExcludedDomain,
  parseRawMessage,
  threadLookupKeys,
  type FilterInput,
} from '../../domain/mail';

/** A minimal person-written message with the given extra header lines. */
async function mailWithHeaders(headerLines: string[], subject = 'Question about invoice 1042') {
  const raw = [
    'From: Jane Doe <jane@client.example>',
    'To: sam@agency.example',
    `Subject: ${subject}`,
    'Message-ID: <own@client.example>',
    ...headerLines,
    '',
    'Hello',
  ].join('\r\n');
  return parseRawMessage(raw);
}

describe('automatedMailReason', () => {
  it.each([
    ['Auto-Submitted: auto-replied', 'auto-reply'],
    ['Auto-Submitted: auto-generated', 'auto-reply'],
    ['Auto-Submitted: Auto-Notified; owner-email="x@y.example"', 'auto-reply'],
    ['X-Autoreply: yes', 'auto-reply'],
    ['X-Autorespond: Out of office', 'auto-reply'],
    ['Precedence: auto_reply', 'auto-reply'],
    ['Precedence: bulk', 'bulk'],
    ['Precedence: JUNK', 'bulk'],
    ['Precedence: list', 'bulk'],
    ['List-Id: Customers <customers.lists.example>', 'bulk'],
    ['List-Unsubscribe: <mailto:leave@lists.example>', 'bulk'],
    ['Return-Path: <>', 'bounce'],
    ['Return-Path: <<>>', 'bounce'],
    ['X-Failed-Recipients: gone@elsewhere.example', 'bounce'],
    ['Content-Type: multipart/report; report-type="delivery-status"; boundary=b', 'bounce'],
  ])('I12 When a message has "%s" Then it is %s', async (header, expected) => {
    expect(automatedMailReason(await mailWithHeaders([header]))).toBe(expected);
  });

  it.each([
    ['Auto-Submitted: no'],
    ['Auto-Submitted: No (a person wrote this)'],
    ['X-Autoreply: no'],
    ['Precedence: first-class'],
    ['X-Auto-Response-Suppress: All'],
    ['X-Auto-Response-Suppress: OOF, DR, RN, NRN, AutoReply'],
    ['Return-Path: <jane@client.example>'],
  ])('I12 When a person-written message has "%s" Then it is imported', async (header) => {
    expect(automatedMailReason(await mailWithHeaders([header]))).toBeNull();
  });

  it('I12 When X-Auto-Response-Suppress comes with an Exchange auto-reply subject Then it is an auto-reply', async () => {
    const mail = await mailWithHeaders(['X-Auto-Response-Suppress: All'], 'Automatic reply: Invoice 1042');
    expect(automatedMailReason(mail)).toBe('auto-reply');
  });

  it('I12 When a person writes about being out of office without the header Then it is imported', async () => {
    const mail = await mailWithHeaders([], 'Out of office: who covers my account?');
    expect(automatedMailReason(mail)).toBeNull();
  });

  it.each(['MAILER-DAEMON@mx.client.example', 'postmaster@client.example'])(
    'I12 When the sender is %s Then it is a bounce',
    async (sender) => {
      const mail = await parseRawMessage(`From: ${sender}\r\nSubject: Undeliverable\r\n\r\nx`);
      expect(automatedMailReason(mail)).toBe('bounce');
    },
  );

  it('I12 When a delivery report also carries Auto-Submitted Then bounce wins over auto-reply', async () => {
    const mail = await mailWithHeaders([
      'Auto-Submitted: auto-replied',
      'Content-Type: multipart/report; report-type=delivery-status; boundary=b',
    ]);
    expect(automatedMailReason(mail)).toBe('bounce');
  });

  it('I12 When an auto-responder uses the null Return-Path as RFC 3834 asks Then it is an auto-reply, not a bounce', async () => {
    const mail = await mailWithHeaders(['Return-Path: <>', 'Auto-Submitted: auto-replied']);
    expect(automatedMailReason(mail)).toBe('auto-reply');
  });
});

describe('domains', () => {
  it.each([
    ['Jane@Client.Example', 'client.example'],
    ['odd@@sub.client.example.', 'sub.client.example'],
    ['no-at-sign', null],
    ['trailing@', null],
  ])('I5 When the address is %s Then its domain is %s', (address, expected) => {
    expect(domainOf(address)).toBe(expected);
  });

  it.each([
    ['jane@x.com', ['x.com'], true],
    ['jane@mail.eu.x.com', ['x.com'], true],
    ['jane@X.COM', ['x.com'], true],
    ['jane@x.com', ['@X.com'], true],
    ['jane@a.x.com', ['*.x.com'], true],
    ['jane@x.com', ['*.x.com'], true],
    ['jane@x.com', [' x.com. '], true],
    ['jane@notx.com', ['x.com'], false],
    ['jane@x.com.evil.example', ['x.com'], false],
    ['jane@x.com', ['sub.x.com'], false],
    ['jane@x.com', [''], false],
    ['jane@x.com', ['*'], false],
    ['no-domain', ['x.com'], false],
  ])('I5 When %s is checked against %j Then excluded is %s', (address, excluded, expected) => {
    expect(isExcludedDomain(address, excluded)).toBe(expected);
  });

  const companies = [
    { id: 'acme', domains: ['acme.example', '*.acme-group.example'] },
    { id: 'acme-uk', domains: ['uk.acme-group.example'] },
    { id: 'acme-eu', domains: ['*.eu.acme-group.example'] },
    { id: 'other', domains: ['@Other.Example'] },
  ];

  it.each([
    ['acme.example', 'acme'],
    ['ACME.example.', 'acme'],
    ['mail.acme.example', null],
    ['de.acme-group.example', 'acme'],
    ['uk.acme-group.example', 'acme-uk'],
    ['fr.eu.acme-group.example', 'acme-eu'],
    ['acme-group.example', null],
    ['other.example', 'other'],
    ['notacme.example', null],
    ['', null],
  ])('I7 When the sender domain is %s Then the company is %s', (domain, expected) => {
    expect(companyForDomain(domain, companies)).toBe(expected);
  });

  it('I7 When two companies claim the same domain Then no company is guessed', () => {
    const clash = [
      { id: 'first', domains: ['shared.example'] },
      { id: 'second', domains: ['SHARED.example'] },
    ];
    expect(companyForDomain('shared.example', clash)).toBeNull();
  });

  it('I7 When one company lists the same domain twice Then it still matches', () => {
    expect(companyForDomain('x.example', [{ id: 'x', domains: ['x.example', '@x.example'] }])).toBe('x');
  });
});

describe('filterDecision', () => {
  const personFromUnknownCompany: FilterInput = {
    mode: 'client_only',
    sender: 'jane@client.example',
    excludedDomains: [],
    senderIsCustomerWithCompany: false,
    senderDomainCompanyId: null,
    automated: null,
  };

  it('I4 When client_only and the sender is an existing customer of a company Then the email is imported', () => {
    expect(filterDecision({ ...personFromUnknownCompany, senderIsCustomerWithCompany: true })).toEqual({
      import: true,
      reason: 'sender-is-client-customer',
    });
  });

  it("I4 When client_only and the sender's domain belongs to a company Then the email is imported", () => {
    expect(filterDecision({ ...personFromUnknownCompany, senderDomainCompanyId: 'acme' })).toEqual({
      import: true,
      reason: 'sender-domain-is-client-company',
    });
  });

  it('I4 When client_only and the sender is unknown Then the email is skipped', () => {
    expect(filterDecision(personFromUnknownCompany)).toEqual({ import: false, reason: 'sender-is-not-a-client' });
  });

  it('I4 When mode is all Then mail from anyone is imported', () => {
    expect(filterDecision({ ...personFromUnknownCompany, mode: 'all' })).toEqual({
      import: true,
      reason: 'all-mail-mode',
    });
  });

  it.each(['client_only', 'all'] as const)(
    'I5 When mode is %s and the sender is on an excluded subdomain Then it is never imported, even from a client',
    (mode) => {
      const decision = filterDecision({
        ...personFromUnknownCompany,
        mode,
        sender: 'jane@eu.client.example',
        excludedDomains: ['client.example'],
        senderIsCustomerWithCompany: true,
        senderDomainCompanyId: 'acme',
        automated: 'bulk',
      });
      expect(decision).toEqual({ import: false, reason: 'excluded-domain' });
    },
  );

  it.each(['auto-reply', 'bounce', 'bulk'] as const)(
    'I12 When mode is all and the mail is %s Then it is not imported even from a client',
    (automated) => {
      const decision = filterDecision({ ...personFromUnknownCompany, mode: 'all', senderIsCustomerWithCompany: true, automated });
      expect(decision).toEqual({ import: false, reason: automated });
    },
  );
});

describe('threadLookupKeys', () => {
  it('I6 When a message names its parent and ancestors Then provider thread, parent, then references newest first', () => {
    const keys = threadLookupKeys(
      { messageId: 'own@x', inReplyTo: ['parent@x'], references: ['root@x', 'middle@x', 'parent@x'] },
      ' thread-7 ',
    );
    expect(keys).toEqual([
      { kind: 'provider-thread', id: 'thread-7' },
      { kind: 'message-id', id: 'parent@x' },
      { kind: 'message-id', id: 'middle@x' },
      { kind: 'message-id', id: 'root@x' },
    ]);
  });

  it('I6 When a message lists its own id or no provider thread Then only real parents are keys', () => {
    const keys = threadLookupKeys({ messageId: '<own@x>', inReplyTo: [], references: ['<root@x>', 'own@x'] }, '');
    expect(keys).toEqual([{ kind: 'message-id', id: 'root@x' }]);
  });

  it('I6 When Message-IDs differ only in case Then they stay distinct keys', () => {
    const keys = threadLookupKeys({ inReplyTo: ['ABC@x'], references: ['abc@x'] }, null);
    expect(keys.map((key) => key.id)).toEqual(['ABC@x', 'abc@x']);
  });

  it('I6 When In-Reply-To carries an old-style phrase around the id Then only the id is used', async () => {
    const mail = await mailWithHeaders(['In-Reply-To: Your message of "Mon, 3 Aug" <parent@client.example>']);
    expect(threadLookupKeys(mail, undefined)).toEqual([{ kind: 'message-id', id: 'parent@client.example' }]);
  });
});

describe('customerNameFromAddress', () => {
  it.each([
    [{ address: 'jane.doe@x.example', name: 'Jane Doe' }, 'Jane', 'Doe'],
    [{ address: 'jane.doe@x.example', name: 'Doe, Jane' }, 'Jane', 'Doe'],
    [{ address: 'jane.doe@x.example', name: '"Doe, Jane"' }, 'Jane', 'Doe'],
    [{ address: 'l@x.example', name: 'Ludwig van Beethoven' }, 'Ludwig', 'van Beethoven'],
    [{ address: 'j@x.example', name: 'Jane Doe (Acme Ltd)' }, 'Jane', 'Doe'],
    [{ address: 'j@x.example', name: 'Cher' }, 'Cher', ''],
    [{ address: 'j@x.example', name: "'Jürgen  Schmürgen'" }, 'Jürgen', 'Schmürgen'],
    [{ address: 'jane.doe@x.example', name: '' }, 'Jane', 'Doe'],
    [{ address: 'JANE_DOE+tickets@x.example', name: '  ' }, 'Jane', 'Doe'],
    [{ address: 'mary-ann.o.neil@x.example', name: 'mary-ann.o.neil@x.example' }, 'Mary', 'Ann O Neil'],
    [{ address: 'jdoe@x.example', name: 'jdoe@x.example' }, 'Jdoe', ''],
    [{ address: '12345@x.example', name: '' }, '', ''],
  ])('I7 When a ticket creates a customer from %j Then the name is %s / %s', (sender, firstName, lastName) => {
    expect(customerNameFromAddress(sender)).toEqual({ firstName, lastName });
  });
});
