/**
 * Natural keys that carry their site: FerretDB and MongoDB disagree on how compound unique
 * indexes treat missing fields, but agree on a single sparse field. So every optional unique
 * key is one string `${siteId}:${value}`.
 */
export const siteKey = (siteId: unknown, value: string | number): string => `${String(siteId)}:${value}`;

export const emailKeyOf = (email: string): string => email.trim().toLowerCase();

/** Companies match by name case-insensitively and ignoring surrounding/inner runs of spaces (C2). */
export const nameKeyOf = (name: string): string => name.trim().replace(/\s+/g, ' ').toLowerCase();

export const domainOfEmail = (email: string): string | undefined => email.split('@')[1]?.trim().toLowerCase() || undefined;

export function domainOfWebsite(website: string | undefined): string | undefined {
  if (!website) return undefined;
  try {
    const url = new URL(/^[a-z]+:\/\//i.test(website) ? website : `https://${website}`);
    return url.hostname.replace(/^www\./, '').toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}
