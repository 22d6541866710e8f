/** Everything one emulator process holds: its sites, their API keys, and the shared machinery
 * (rate limiter, faults, webhook dispatcher, request log). */
import { EmulatorError } from './errors';
import { Faults } from './faults';
import { Installation } from './installation';
import { RateLimiter, type ResetHeaderStyle } from './rate-limiter';
import { RequestLog } from './request-log';
import { WebhookDispatcher } from './webhooks';

export interface TeamworkEmulatorOptions {
  host?: string;
  port?: number;
  /** Requests per key per window; 0 means unlimited (and no rate headers). Default 150. */
  rateLimitPerMinute?: number;
  /** Length of the rate-limit window; default 60,000 ms. */
  rateWindowMs?: number;
  /** Larger `pageSize` values are clamped to this; default 500. */
  maxPageSize?: number;
  /** Delays before each retry of a failed webhook delivery; default 1, 5 and 10 minutes. */
  webhookRetryDelaysMs?: number[];
  /** A receiver slower than this counts as failed; default 5,000 ms. */
  webhookTimeoutMs?: number;
  /** `X-Rate-Limit-Reset` as seconds left in the window (default) or as the window's end in epoch seconds. */
  resetHeader?: ResetHeaderStyle;
  /** Seed of the generator behind probabilistic faults; default 1. */
  faultSeed?: number;
}

const INSTALLATION_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export class EmulatorState {
  readonly installations = new Map<string, Installation>();
  readonly installationByApiKey = new Map<string, Installation>();
  readonly limiter: RateLimiter;
  readonly faults: Faults;
  readonly dispatcher: WebhookDispatcher;
  readonly requestLog = new RequestLog();
  readonly maxPageSize: number;

  constructor(options: TeamworkEmulatorOptions) {
    this.limiter = new RateLimiter(
      options.rateLimitPerMinute ?? 150,
      options.rateWindowMs ?? 60_000,
      options.resetHeader ?? 'seconds',
    );
    this.faults = new Faults(options.faultSeed ?? 1);
    this.dispatcher = new WebhookDispatcher(
      options.webhookRetryDelaysMs ?? [60_000, 300_000, 600_000],
      options.webhookTimeoutMs ?? 5_000,
      this.faults,
    );
    this.maxPageSize = options.maxPageSize ?? 500;
  }

  installation(name: string): Installation {
    const installation = this.installations.get(name);
    if (!installation) throw new EmulatorError('not_found', `No installation named "${name}"`);
    return installation;
  }

  addInstallation(name: string, ownerCompanyName: string): Installation {
    if (!INSTALLATION_NAME.test(name)) {
      throw new EmulatorError('bad_request', 'Installation names are lower-case letters, digits and dashes');
    }
    if (this.installations.has(name)) throw new EmulatorError('conflict', `Installation "${name}" already exists`);
    const installation = new Installation(name, ownerCompanyName, (source, event, entityKey, entity) =>
      this.dispatcher.dispatch(source, event, entityKey, entity),
    );
    this.installations.set(name, installation);
    return installation;
  }

  addApiKey(installation: Installation, apiKey: string): void {
    if (!apiKey) throw new EmulatorError('bad_request', 'An API key cannot be empty');
    const holder = this.installationByApiKey.get(apiKey);
    if (holder && holder !== installation) throw new EmulatorError('conflict', 'That API key belongs to another installation');
    this.installationByApiKey.set(apiKey, installation);
  }

  reset(): void {
    this.dispatcher.cancelAll();
    this.dispatcher.clearDeliveries();
    this.installations.clear();
    this.installationByApiKey.clear();
    this.limiter.reset();
    this.faults.clear();
    this.requestLog.clear();
  }
}
