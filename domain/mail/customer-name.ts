import type { MailAddress } from './parse-raw-message';

export interface CustomerName {
  firstName: string;
  lastName: string;
}

/**
 * Best-effort name for a customer created from a ticket (I7). The display name wins when it is a
 * real name; otherwise the address's local part is split on separators (`jane.doe` → Jane Doe).
 * With several words the first is the first name and the rest the last name, which keeps particles
 * together (`Ludwig van Beethoven` → Ludwig / van Beethoven). An unknown part is an empty string,
 * which C7 then reports as missing rather than syncing a guess.
 */
export function customerNameFromAddress({ address, name }: Pick<MailAddress, 'address' | 'name'>): CustomerName {
  const displayName = cleanDisplayName(name, address);
  if (displayName !== '') {
    return splitDisplayName(displayName);
  }
  return nameFromLocalPart(address);
}

function cleanDisplayName(name: string, address: string): string {
  const cleaned = name
    .replace(/\([^)]*\)/g, ' ') // RFC 5322 comments, often a company: "Jane Doe (Acme)"
    .replace(/^[\s"'<]+|[\s"'>]+$/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  // Clients that know no name repeat the address as the display name.
  return cleaned.includes('@') || cleaned.toLowerCase() === address.toLowerCase() ? '' : cleaned;
}

function splitDisplayName(displayName: string): CustomerName {
  const commaParts = displayName.split(',').map((part) => part.trim());
  // Directory style "Doe, Jane" (Exchange, Lotus). More commas are not a name order we can read.
  if (commaParts.length === 2 && commaParts[0] !== '' && commaParts[1] !== '') {
    return { firstName: commaParts[1] ?? '', lastName: commaParts[0] ?? '' };
  }
  const [firstName = '', ...rest] = displayName.replace(/,/g, ' ').split(' ').filter(Boolean);
  return { firstName, lastName: rest.join(' ') };
}

function nameFromLocalPart(address: string): CustomerName {
  const at = address.lastIndexOf('@');
  const localPart = (at < 0 ? address : address.slice(0, at)).split('+')[0] ?? '';
  const [firstName = '', ...rest] = localPart
    .split(/[._\-\s]+/)
    .filter((word) => /[a-z]/i.test(word))
    .map(capitalise);
  return { firstName, lastName: rest.join(' ') };
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1).toLowerCase();
}
