import { ApplicationFailure } from '@temporalio/common';

/** Failure types the mailbox workflow tells apart (it imports this type only). */
export type MailFailureType = 'NeedsReconnect' | 'MailRateLimited' | 'MailProviderUnavailable' | 'MailProviderRejected';

/**
 * A provider answer, classified once in the connector so activities and the workflow never
 * parse HTTP details: rate limits carry the provider's Retry-After, a revoked grant is final.
 */
export class MailProviderError extends Error {
  constructor(
    readonly type: MailFailureType,
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  get retryable(): boolean {
    return this.type === 'MailRateLimited' || this.type === 'MailProviderUnavailable';
  }
}

/** The refresh token no longer works (revoked, expired, password change): the user must reconnect (I2). */
export class NeedsReconnectError extends MailProviderError {
  constructor(message = 'the mailbox consent was revoked or has expired') {
    super('NeedsReconnect', message);
  }
}

/** Classifies an HTTP status (plus Retry-After) from either provider. */
export function providerErrorFor(status: number, message: string, retryAfter?: string | null, rateLimitReason = false): MailProviderError {
  const retryAfterMs = parseRetryAfter(retryAfter);
  if (status === 429 || (status === 403 && rateLimitReason)) return new MailProviderError('MailRateLimited', message, status, retryAfterMs ?? 1000);
  if (status >= 500 || status === 408 || status === 0) return new MailProviderError('MailProviderUnavailable', message, status, retryAfterMs);
  return new MailProviderError('MailProviderRejected', message, status);
}

function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Maps a provider error to the Temporal failure the workflow and retry policy act on. */
export function mailActivityFailure(err: unknown): unknown {
  if (!(err instanceof MailProviderError)) return err;
  return ApplicationFailure.create({
    type: err.type,
    message: err.message,
    nonRetryable: !err.retryable,
    nextRetryDelay: err.retryAfterMs !== undefined && err.retryable ? Math.max(1, err.retryAfterMs) : undefined,
    details: err.status === undefined ? [] : [{ status: err.status }],
  });
}
