export interface ThrottleOptions {
  enabled?: boolean;
  /** Outlook's per app+mailbox budget: 10,000 requests in any 10-minute window. */
  requestsPer10Min?: number;
  /** Outlook runs at most 4 requests per app+mailbox at once. */
  maxConcurrent?: number;
  /** Seconds sent in `Retry-After`; `null` leaves the header out, as Graph sometimes does. */
  retryAfterSeconds?: number | null;
}

export type ThrottleSettings = Required<ThrottleOptions>;

export const DEFAULT_THROTTLE: ThrottleSettings = {
  enabled: false,
  requestsPer10Min: 10_000,
  maxConcurrent: 4,
  retryAfterSeconds: 1,
};

const WINDOW_MS = 10 * 60_000;

export type ThrottleDecision =
  | { admitted: true; release: () => void }
  | { admitted: false; limit: 'MailboxConcurrency' | 'MailboxRequestRate'; retryAfterSeconds: number | null };

/** Per-mailbox sliding window plus in-flight cap; one instance per emulator. */
export class MailboxThrottle {
  private settings: ThrottleSettings;
  private readonly admittedAt = new Map<string, number[]>();
  private readonly inFlight = new Map<string, number>();
  private forcedRejections = 0;

  constructor(options: ThrottleOptions = {}) {
    this.settings = { ...DEFAULT_THROTTLE, ...options };
  }

  configure(options: ThrottleOptions): void {
    this.settings = { ...this.settings, ...options };
  }

  forceNext(count: number): void {
    this.forcedRejections = count;
  }

  admit(mailbox: string): ThrottleDecision {
    if (this.forcedRejections > 0) {
      this.forcedRejections -= 1;
      return { admitted: false, limit: 'MailboxConcurrency', retryAfterSeconds: this.settings.retryAfterSeconds };
    }
    if (!this.settings.enabled) return { admitted: true, release: () => undefined };
    const now = Date.now();
    const recent = (this.admittedAt.get(mailbox) ?? []).filter((at) => at > now - WINDOW_MS);
    this.admittedAt.set(mailbox, recent);
    const inFlight = this.inFlight.get(mailbox) ?? 0;
    if (inFlight >= this.settings.maxConcurrent) {
      return { admitted: false, limit: 'MailboxConcurrency', retryAfterSeconds: this.settings.retryAfterSeconds };
    }
    if (recent.length >= this.settings.requestsPer10Min) {
      const secondsUntilSlotFrees = Math.max(1, Math.ceil((recent[0]! + WINDOW_MS - now) / 1000));
      return {
        admitted: false,
        limit: 'MailboxRequestRate',
        retryAfterSeconds: this.settings.retryAfterSeconds === null ? null : secondsUntilSlotFrees,
      };
    }
    recent.push(now);
    this.inFlight.set(mailbox, inFlight + 1);
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight.set(mailbox, (this.inFlight.get(mailbox) ?? 1) - 1);
      },
    };
  }
}
