import type { AutomatedMailReason } from './automated-mail';
import { isExcludedDomain } from './domains';

export type FilterMode = 'client_only' | 'all';

export type FilterReason =
  | 'excluded-domain'
  | AutomatedMailReason
  | 'sender-is-client-customer'
  | 'sender-domain-is-client-company'
  | 'sender-is-not-a-client'
  | 'all-mail-mode';

export interface FilterInput {
  mode: FilterMode;
  sender: string;
  excludedDomains: readonly string[];
  /** The sender already exists as a customer associated with a company. */
  senderIsCustomerWithCompany: boolean;
  /** The company whose domain matches the sender's, from companyForDomain. */
  senderDomainCompanyId: string | null;
  automated: AutomatedMailReason | null;
}

export interface FilterDecision {
  import: boolean;
  reason: FilterReason;
}

/**
 * Whether an email becomes a ticket. Excluded domains (I5) win over everything, automated mail
 * (I12) is dropped in both modes, and only then does the inbox's filter mode (I4) decide.
 */
export function filterDecision(input: FilterInput): FilterDecision {
  if (isExcludedDomain(input.sender, input.excludedDomains)) {
    return { import: false, reason: 'excluded-domain' };
  }
  if (input.automated !== null) {
    return { import: false, reason: input.automated };
  }
  if (input.mode === 'all') {
    return { import: true, reason: 'all-mail-mode' };
  }
  if (input.senderIsCustomerWithCompany) {
    return { import: true, reason: 'sender-is-client-customer' };
  }
  if (input.senderDomainCompanyId !== null) {
    return { import: true, reason: 'sender-domain-is-client-company' };
  }
  return { import: false, reason: 'sender-is-not-a-client' };
}
