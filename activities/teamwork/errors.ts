/** Failure types shared by the connector, activities, workflows and tests (assert on these, not on text). */
export const TeamworkFailure = {
  /** 401/403: the API key or token was refused. Retrying cannot help. */
  authRejected: 'TeamworkAuthRejected',
  /** 400/409/422: Teamwork.com refused the write. Recorded on the record's sync status. */
  rejected: 'TeamworkRejected',
  notFound: 'TeamworkNotFound',
  /** 429: retried after the window resets. */
  rateLimited: 'TeamworkRateLimited',
  /** 5xx, timeouts, connection errors: retried with backoff. */
  unavailable: 'TeamworkUnavailable',
  invalidResponse: 'TeamworkInvalidResponse',
} as const;

export type TeamworkFailureType = (typeof TeamworkFailure)[keyof typeof TeamworkFailure];

export class TeamworkError extends Error {
  constructor(
    readonly type: TeamworkFailureType,
    message: string,
    readonly status?: number,
    /** For rate limits: milliseconds until the window resets. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'TeamworkError';
  }

  get permanent(): boolean {
    return this.type === TeamworkFailure.authRejected || this.type === TeamworkFailure.rejected || this.type === TeamworkFailure.notFound || this.type === TeamworkFailure.invalidResponse;
  }
}
