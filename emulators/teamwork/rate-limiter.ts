/**
 * Teamwork.com's per-key fixed window: the first request opens a window of `windowMs`; once
 * `limit` requests were served in it, every further request gets 429 until it ends.
 */
export type ResetHeaderStyle = 'seconds' | 'epoch';

export interface RateDecision {
  allowed: boolean;
  headers: Record<string, string>;
}

interface Window {
  startsAt: number;
  served: number;
}

export class RateLimiter {
  private readonly windows = new Map<string, Window>();
  private limit: number;

  constructor(
    private readonly configuredLimit: number,
    private readonly windowMs: number,
    private readonly resetHeaderStyle: ResetHeaderStyle,
  ) {
    this.limit = configuredLimit;
  }

  /** 0 turns limiting (and its headers) off. */
  setLimit(limit: number): void {
    this.limit = limit;
  }

  /** Back to the configured limit with no window open. */
  reset(): void {
    this.limit = this.configuredLimit;
    this.windows.clear();
  }

  /** Counts a request against `key` and says whether it may be served. */
  consume(key: string, now = Date.now()): RateDecision {
    if (this.limit <= 0) return { allowed: true, headers: {} };
    const window = this.currentWindow(key, now);
    const allowed = window.served < this.limit;
    if (allowed) window.served += 1;
    return { allowed, headers: this.headers(window, now) };
  }

  /** The headers a response for `key` would carry right now, without counting a request. */
  peek(key: string, now = Date.now()): Record<string, string> {
    return this.limit <= 0 ? {} : this.headers(this.currentWindow(key, now), now);
  }

  private currentWindow(key: string, now: number): Window {
    let window = this.windows.get(key);
    if (!window || now >= window.startsAt + this.windowMs) {
      window = { startsAt: now, served: 0 };
      this.windows.set(key, window);
    }
    return window;
  }

  private headers(window: Window, now: number): Record<string, string> {
    const endsAt = window.startsAt + this.windowMs;
    const reset =
      this.resetHeaderStyle === 'epoch'
        ? Math.ceil(endsAt / 1000)
        : Math.max(1, Math.ceil((endsAt - now) / 1000));
    return {
      'X-Rate-Limit-Limit': String(this.limit),
      'X-Rate-Limit-Remaining': String(Math.max(0, this.limit - window.served)),
      'X-Rate-Limit-Reset': String(reset),
    };
  }
}
