/**
 * Gmail per-user quota: a moving window of units per second, modelled as a token bucket holding
 * one second of units. Costs per method follow Google's published table (legacy regime).
 */

export type GmailMethod =
  | 'getProfile'
  | 'messagesList'
  | 'messagesGet'
  | 'attachmentsGet'
  | 'messagesSend'
  | 'messagesModify'
  | 'threadsList'
  | 'threadsGet'
  | 'historyList'
  | 'labelsList'
  | 'watch'
  | 'stop';

export type QuotaCosts = Record<GmailMethod, number>;

export const DEFAULT_QUOTA_COSTS: QuotaCosts = {
  getProfile: 1,
  messagesList: 5,
  messagesGet: 5,
  attachmentsGet: 5,
  messagesSend: 100,
  messagesModify: 5,
  threadsList: 10,
  threadsGet: 10,
  historyList: 2,
  labelsList: 1,
  watch: 100,
  stop: 50,
};

/** The 2026 regime for new projects (6,000/min/user; get 20, threads.get 40). */
export const MAY_2026_QUOTA_COSTS: QuotaCosts = { ...DEFAULT_QUOTA_COSTS, messagesGet: 20, threadsGet: 40 };

export interface QuotaOptions {
  /** 0 or undefined turns quota off. Legacy Gmail: 250 (15,000/min). */
  unitsPerSecondPerUser?: number;
  costs?: Partial<QuotaCosts>;
  /** 429 rateLimitExceeded (default) or 403 userRateLimitExceeded. */
  exceededStatus?: 429 | 403;
}

/**
 * Theoretical import ceiling per mailbox: each message costs one get plus its share of a list
 * page, so msg/s = units / (get + list / pageSize).
 */
export function quotaBoundMsgPerSec(options: { unitsPerSecondPerUser: number; costs?: Partial<QuotaCosts>; pageSize?: number }): number {
  const costs = { ...DEFAULT_QUOTA_COSTS, ...options.costs };
  return options.unitsPerSecondPerUser / (costs.messagesGet + costs.messagesList / (options.pageSize ?? 500));
}

export class QuotaTracker {
  private readonly buckets = new Map<string, { units: number; updatedAt: number }>();
  readonly costs: QuotaCosts;

  constructor(
    private readonly options: QuotaOptions,
    private readonly now: () => number,
  ) {
    this.costs = { ...DEFAULT_QUOTA_COSTS, ...options.costs };
  }

  get enabled(): boolean {
    return (this.options.unitsPerSecondPerUser ?? 0) > 0;
  }

  /** Takes the method's units from the user's bucket; returns ms until it would fit, or 0 on success. */
  take(user: string, method: GmailMethod): number {
    const rate = this.options.unitsPerSecondPerUser ?? 0;
    if (rate <= 0) return 0;
    const cost = this.costs[method];
    const now = this.now();
    const bucket = this.buckets.get(user) ?? { units: rate, updatedAt: now };
    bucket.units = Math.min(rate, bucket.units + ((now - bucket.updatedAt) / 1000) * rate);
    bucket.updatedAt = now;
    this.buckets.set(user, bucket);
    // A call costlier than the whole bucket (send at rate < 100) may still pass on a full bucket.
    const needed = Math.min(cost, rate);
    if (bucket.units >= needed) {
      bucket.units -= cost;
      return 0;
    }
    return Math.ceil(((needed - bucket.units) / rate) * 1000);
  }
}
