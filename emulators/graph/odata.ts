import { graphDateTime } from './message-content';
import type { StoredMessage } from './mailbox';

/** A Graph error the route layer turns into the standard `{error:{code,message,innerError}}` body. */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const MESSAGE_PROPERTIES = [
  'createdDateTime',
  'lastModifiedDateTime',
  'changeKey',
  'categories',
  'receivedDateTime',
  'sentDateTime',
  'hasAttachments',
  'internetMessageId',
  'subject',
  'bodyPreview',
  'importance',
  'parentFolderId',
  'conversationId',
  'conversationIndex',
  'isDeliveryReceiptRequested',
  'isReadReceiptRequested',
  'isRead',
  'isDraft',
  'webLink',
  'inferenceClassification',
  'body',
  'sender',
  'from',
  'toRecipients',
  'ccRecipients',
  'bccRecipients',
  'replyTo',
  'flag',
] as const;

/** Returned only when named in `$select` (message resource docs). */
const SELECT_ONLY_PROPERTIES = ['internetMessageHeaders', 'uniqueBody'] as const;

const SELECTABLE = new Set<string>(['id', ...MESSAGE_PROPERTIES, ...SELECT_ONLY_PROPERTIES]);

export function parseSelect(value: string | undefined): string[] | null {
  if (value === undefined || value.trim() === '') return null;
  const names = value.split(',').map((name) => name.trim()).filter(Boolean);
  for (const name of names) {
    if (!SELECTABLE.has(name)) {
      throw new GraphError(
        400,
        'RequestBroker--ParseUri',
        `Could not find a property named '${name}' on type 'Microsoft.OutlookServices.Message'.`,
      );
    }
  }
  return names;
}

export interface RenderOptions {
  select: string[] | null;
  immutableIds: boolean;
  bodyContentType: 'html' | 'text';
  expandAttachments: boolean;
}

function messageId(message: StoredMessage, immutableIds: boolean): string {
  return immutableIds ? message.immutableId : message.mutableId;
}

export function messageEtag(message: StoredMessage): string {
  return `W/"${changeKey(message)}"`;
}

function changeKey(message: StoredMessage): string {
  return Buffer.from(`CQAAABYAAAA${message.immutableId.slice(-12)}${message.version}`).toString('base64');
}

function propertyValue(message: StoredMessage, name: string, options: RenderOptions): unknown {
  const content = message.content;
  switch (name) {
    case 'createdDateTime':
      return graphDateTime(message.createdAt);
    case 'lastModifiedDateTime':
      return graphDateTime(message.lastModifiedAt);
    case 'changeKey':
      return changeKey(message);
    case 'categories':
      return [];
    case 'receivedDateTime':
      return graphDateTime(message.receivedAt);
    case 'sentDateTime':
      return content.sentDateTime ?? graphDateTime(message.receivedAt);
    case 'hasAttachments':
      return content.hasAttachments;
    case 'internetMessageId':
      return content.internetMessageId;
    case 'subject':
      return content.subject;
    case 'bodyPreview':
      return content.bodyPreview;
    case 'importance':
      return 'normal';
    case 'parentFolderId':
      return message.folderId;
    case 'conversationId':
      return message.conversationId;
    case 'conversationIndex':
      return message.conversationIndex;
    case 'isDeliveryReceiptRequested':
    case 'isReadReceiptRequested':
      return false;
    case 'isRead':
      return message.isRead;
    case 'isDraft':
      return message.isDraft;
    case 'webLink':
      return `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(message.immutableId)}&exvsurl=1&viewmodel=ReadMessageItem`;
    case 'inferenceClassification':
      return 'focused';
    case 'body':
    case 'uniqueBody':
      return options.bodyContentType === 'text'
        ? { contentType: 'text', content: content.textBody }
        : { contentType: 'html', content: content.htmlBody };
    case 'sender':
      return content.sender;
    case 'from':
      return content.from;
    case 'toRecipients':
      return content.toRecipients;
    case 'ccRecipients':
      return content.ccRecipients;
    case 'bccRecipients':
      return content.bccRecipients;
    case 'replyTo':
      return content.replyTo;
    case 'flag':
      return { flagStatus: 'notFlagged' };
    case 'internetMessageHeaders':
      return content.internetMessageHeaders;
    default:
      return undefined;
  }
}

export function renderMessage(message: StoredMessage, options: RenderOptions): Record<string, unknown> {
  const rendered: Record<string, unknown> = {
    '@odata.etag': messageEtag(message),
    id: messageId(message, options.immutableIds),
  };
  const names = options.select ?? MESSAGE_PROPERTIES;
  for (const name of names) {
    if (name !== 'id') rendered[name] = propertyValue(message, name, options);
  }
  if (options.expandAttachments) rendered.attachments = message.attachments;
  return rendered;
}

export type FilterClause =
  | { property: 'receivedDateTime'; operator: 'ge' | 'gt' | 'le' | 'lt'; value: Date }
  | { property: 'isRead' | 'hasAttachments'; operator: 'eq' | 'ne'; value: boolean };

const CLAUSE = /^\s*(\w+)\s+(ge|gt|le|lt|eq|ne)\s+(.+?)\s*$/i;

const OPERATOR_NAMES: Record<string, string> = {
  ge: 'GreaterThanOrEqual',
  gt: 'GreaterThan',
  le: 'LessThanOrEqual',
  lt: 'LessThan',
  eq: 'Equal',
  ne: 'NotEqual',
};

function dateClause(operator: string, literal: string): FilterClause {
  if (literal.startsWith("'")) {
    throw new GraphError(
      400,
      'BadRequest',
      `A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator kind '${OPERATOR_NAMES[operator]}'.`,
    );
  }
  const date = new Date(literal);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(literal) || Number.isNaN(date.getTime())) {
    throw new GraphError(400, 'BadRequest', `The DateTimeOffset text '${literal}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?'.`);
  }
  if (operator !== 'ge' && operator !== 'gt' && operator !== 'le' && operator !== 'lt') {
    throw new GraphError(400, 'ErrorInvalidUrlQueryFilter', `The emulator does not support '${operator}' on receivedDateTime.`);
  }
  return { property: 'receivedDateTime', operator, value: date };
}

/**
 * The `$filter` subset an importer plausibly sends: `receivedDateTime` ranges and the boolean
 * flags `isRead`/`hasAttachments`, joined by `and`. Anything else is refused rather than ignored.
 */
export function parseFilter(value: string | undefined): FilterClause[] {
  if (value === undefined || value.trim() === '') return [];
  return value.split(/\s+and\s+/i).map((text) => {
    const match = CLAUSE.exec(text);
    if (!match) throw new GraphError(400, 'BadRequest', `Invalid filter clause: '${text}'.`);
    const [, property, rawOperator, literal] = match as unknown as [string, string, string, string];
    const operator = rawOperator.toLowerCase();
    if (property === 'receivedDateTime') return dateClause(operator, literal);
    if ((property === 'isRead' || property === 'hasAttachments') && (operator === 'eq' || operator === 'ne') && /^(true|false)$/.test(literal)) {
      return { property, operator, value: literal === 'true' };
    }
    throw new GraphError(400, 'ErrorInvalidUrlQueryFilter', `The emulator does not support the filter clause '${text}'.`);
  });
}

export function matchesFilter(message: StoredMessage, clauses: FilterClause[]): boolean {
  return clauses.every((clause) => {
    if (clause.property === 'receivedDateTime') {
      const received = message.receivedAt.getTime();
      const bound = clause.value.getTime();
      if (clause.operator === 'ge') return received >= bound;
      if (clause.operator === 'gt') return received > bound;
      if (clause.operator === 'le') return received <= bound;
      return received < bound;
    }
    const actual = clause.property === 'isRead' ? message.isRead : message.content.hasAttachments;
    return clause.operator === 'eq' ? actual === clause.value : actual !== clause.value;
  });
}

export interface OrderBy {
  property: 'receivedDateTime';
  descending: boolean;
}

export function parseOrderBy(value: string | undefined): OrderBy | null {
  if (value === undefined || value.trim() === '') return null;
  const [property, direction = 'asc', ...rest] = value.trim().split(/\s+/);
  if (property !== 'receivedDateTime' || rest.length > 0 || !/^(asc|desc)$/i.test(direction)) {
    throw new GraphError(400, 'ErrorInvalidUrlQuery', `The emulator supports $orderby=receivedDateTime [asc|desc] only, not '${value}'.`);
  }
  return { property: 'receivedDateTime', descending: direction.toLowerCase() === 'desc' };
}

/**
 * Outlook's rule: a property in `$orderby` must also be in `$filter`, first and in the same
 * order, or the whole query is refused (user-list-messages docs, "InefficientFilter").
 */
export function checkFilterOrderCompatibility(filter: FilterClause[], orderBy: OrderBy | null): void {
  if (orderBy === null || filter.length === 0) return;
  if (filter[0]!.property !== orderBy.property) {
    throw new GraphError(400, 'InefficientFilter', 'The restriction or sort order is too complex for this operation.');
  }
}

export function parseTop(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const top = Number(value);
  if (!Number.isInteger(top) || top < 1 || top > 1000) {
    throw new GraphError(400, 'ErrorInvalidUrlQuery', `Invalid $top value '${value}': it must be between 1 and 1000.`);
  }
  return top;
}

export interface PreferHeader {
  immutableIds: boolean;
  bodyContentType: 'html' | 'text' | null;
  maxPageSize: number | null;
}

export function parsePrefer(values: string | string[] | undefined): PreferHeader {
  const text = [values ?? []].flat().join(',');
  const bodyType = /outlook\.body-content-type\s*=\s*"?(text|html)"?/i.exec(text);
  const maxPageSize = /odata\.maxpagesize\s*=\s*(\d+)/i.exec(text);
  return {
    immutableIds: /IdType\s*=\s*"?ImmutableId"?/i.test(text),
    bodyContentType: bodyType ? (bodyType[1]!.toLowerCase() as 'html' | 'text') : null,
    maxPageSize: maxPageSize ? Number(maxPageSize[1]) : null,
  };
}
