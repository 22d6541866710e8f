/**
 * Message-ID handling shared by parsing and threading (I6).
 *
 * Normalisation removes only what RFC 5322 §3.6.4 treats as syntax around a msg-id: the angle
 * brackets and folding whitespace. Case is kept: the spec gives msg-ids no case-insensitivity, and
 * generators with case-sensitive local parts (base64-like ids) would otherwise collide.
 */
export function normaliseMessageId(raw: string): string | undefined {
  const withoutWhitespace = raw.replace(/\s+/g, '');
  const withoutBrackets = withoutWhitespace.replace(/^<+/, '').replace(/>+$/, '');
  return withoutBrackets === '' ? undefined : withoutBrackets;
}

/**
 * Every msg-id named in a Message-ID, In-Reply-To or References value, in header order, without
 * duplicates. Bracketed ids are taken as they are, so comments and old-style phrases
 * (`Your message of ...`) are ignored; a value with no brackets at all falls back to the
 * whitespace-separated tokens that contain an `@`, which is how broken mailers write them.
 */
export function messageIdsIn(headerValue: string | undefined): string[] {
  if (headerValue === undefined) {
    return [];
  }
  const bracketed = [...headerValue.matchAll(/<([^<>]*)>/g)].map((match) => match[1] ?? '');
  const candidates =
    bracketed.length > 0
      ? bracketed
      : headerValue.split(/[\s,]+/).filter((token) => token.includes('@'));
  const ids: string[] = [];
  for (const candidate of candidates) {
    const id = normaliseMessageId(candidate);
    if (id !== undefined && !ids.includes(id)) {
      ids.push(id);
    }
  }
  return ids;
}
