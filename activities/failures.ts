import { ApplicationFailure } from '@temporalio/common';
import { withHeartbeat } from './heartbeat';
import { TeamworkError } from './teamwork/errors';

/**
 * Turns connector errors into Temporal failures: permanent ones are non-retryable with their
 * type, rate limits retry exactly when the window resets, everything else retries with backoff.
 */
export function toActivityFailure(err: unknown): unknown {
  if (!(err instanceof TeamworkError)) return err;
  if (err.permanent) return ApplicationFailure.create({ type: err.type, message: err.message, nonRetryable: true, details: [{ status: err.status }] });
  return ApplicationFailure.create({
    type: err.type,
    message: err.message,
    nonRetryable: false,
    nextRetryDelay: err.retryAfterMs !== undefined ? Math.max(err.retryAfterMs, 1) : undefined,
  });
}

/** Runs an activity body with heartbeats and with connector errors mapped to Temporal failures. */
export async function runActivity<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await withHeartbeat(work);
  } catch (err) {
    throw toActivityFailure(err);
  }
}

/**
 * FerretDB 1.24 answers 11000 only for inserts; an update that breaks a unique index fails with
 * its storage backend's constraint error (SQLite locally, PostgreSQL otherwise) under code 1.
 */
const backendUniqueViolation = /UNIQUE constraint failed|duplicate key value violates unique constraint/;

/** MongoDB duplicate-key error: the write already happened (idempotency by unique index). */
export function isDuplicateKey(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: number; message?: unknown };
  return code === 11000 || (typeof message === 'string' && backendUniqueViolation.test(message));
}

/** Indexes of the documents an unordered insertMany rejected as duplicates; other errors rethrown. */
export function duplicateIndexes(err: unknown): Set<number> {
  const writeErrors = (err as { writeErrors?: { index: number; code: number; err?: { index: number; code: number } }[] })?.writeErrors;
  if (!writeErrors) {
    if (isDuplicateKey(err)) return new Set([0]);
    throw err;
  }
  const dups = new Set<number>();
  for (const e of writeErrors) {
    const code = e.code ?? e.err?.code;
    if (code !== 11000) throw err;
    dups.add(e.index ?? e.err!.index);
  }
  return dups;
}
