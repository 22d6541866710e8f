export { parseRawMessage, RULE_HEADER_NAMES } from './parse-raw-message';
export type {
  ContentType,
  MailAddress,
  MailAttachment,
  ParsedMail,
  RuleHeaderName,
  RuleHeaders,
} from './parse-raw-message';
export { normaliseMessageId, messageIdsIn } from './message-ids';
export { automatedMailReason } from './automated-mail';
export type { AutomatedMailReason } from './automated-mail';
export { domainOf, isExcludedDomain, companyForDomain } from './domains';
export type { CompanyDomains } from './domains';
export { filterDecision } from './filter-decision';
export type { FilterDecision, FilterInput, FilterMode, FilterReason } from './filter-decision';
export { threadLookupKeys } from './thread-lookup-keys';
export type { ThreadLookupKey } from './thread-lookup-keys';
export { customerNameFromAddress } from './customer-name';
export type { CustomerName } from './customer-name';
