import { Problem } from './problem';

/**
 * How long a webhook may take to be recorded and handed over to Temporal before it is answered
 * 503. Providers stop waiting after a few seconds and redeliver a 5xx, so when Temporal or the
 * database is down or backed up, a quick 503 keeps the delivery; silence loses it (issue 7).
 */
export const webhookAnswerDeadlineMs = 2500;

/**
 * When a webhook's recording and hand-over must be done by, for a request starting now: early
 * enough that a failure is cleaned up (the delivery forgotten) before the 503 goes out.
 */
export function handOverDeadline(): number {
  return Date.now() + webhookAnswerDeadlineMs - 200;
}

/**
 * Settles as `work` does, or rejects with 503 once `ms` have passed. The work keeps running: its
 * own failure handling (forgetting the delivery so the redelivery counts) still happens.
 */
export function withinDeadline<T>(work: Promise<T>, ms = webhookAnswerDeadlineMs): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Problem(503, 'unavailable', 'Could not accept the event now', `not handed over within ${ms} ms; retry later`)), ms);
    work.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (err: unknown) => (clearTimeout(timer), reject(err)),
    );
  });
}
