import { createRandom as seededRandom } from '../random';

/**
 * Injected failures. Count-based faults (`next`) hit the next N matching events; probabilistic ones
 * draw from a seeded generator so a failing run can be replayed exactly.
 */
export interface FaultTrigger {
  next?: number;
  probability?: number;
}

export interface FailRequestFault {
  method?: string;
  pathIncludes?: string;
  status: number;
  body?: unknown;
  /** How many matching requests fail; 1 when omitted. */
  times?: number;
  /** Run the handler (the write happens) and only then replace the response: a lost response. */
  afterCommit?: boolean;
}

export interface FaultSpec {
  rateLimit429?: FaultTrigger;
  serverError?: FaultTrigger & { status?: 500 | 502 | 503 };
  latencyMs?: number;
  dropWebhooks?: FaultTrigger;
  failRequest?: FailRequestFault | FailRequestFault[];
}

interface ActiveFaults {
  rateLimit429?: FaultTrigger;
  serverError?: FaultTrigger & { status?: 500 | 502 | 503 };
  latencyMs: number;
  dropWebhooks?: FaultTrigger;
  failRequests: Array<FailRequestFault & { times: number }>;
}

const noFaults = (): ActiveFaults => ({ latencyMs: 0, failRequests: [] });

export class Faults {
  private active = noFaults();
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  /** Adds to the faults in force: each given kind replaces its predecessor, request failures queue up. */
  inject(spec: FaultSpec): void {
    const failRequests = spec.failRequest === undefined ? [] : [spec.failRequest].flat();
    this.active = {
      rateLimit429: spec.rateLimit429 ? { ...spec.rateLimit429 } : this.active.rateLimit429,
      serverError: spec.serverError ? { ...spec.serverError } : this.active.serverError,
      latencyMs: spec.latencyMs ?? this.active.latencyMs,
      dropWebhooks: spec.dropWebhooks ? { ...spec.dropWebhooks } : this.active.dropWebhooks,
      failRequests: [...this.active.failRequests, ...failRequests.map((fault) => ({ ...fault, times: fault.times ?? 1 }))],
    };
  }

  clear(): void {
    this.active = noFaults();
  }

  get latencyMs(): number {
    return this.active.latencyMs;
  }

  takeRateLimit429(): boolean {
    return this.fires(this.active.rateLimit429);
  }

  /** The status to fail with, when a server error is due. */
  takeServerError(): number | undefined {
    return this.fires(this.active.serverError) ? (this.active.serverError?.status ?? 500) : undefined;
  }

  takeWebhookDrop(): boolean {
    return this.fires(this.active.dropWebhooks);
  }

  takeFailRequest(method: string, path: string): FailRequestFault | undefined {
    const fault = this.active.failRequests.find(
      (candidate) =>
        (!candidate.method || candidate.method.toUpperCase() === method) &&
        (!candidate.pathIncludes || path.includes(candidate.pathIncludes)),
    );
    if (!fault) return undefined;
    fault.times -= 1;
    if (fault.times <= 0) this.active.failRequests = this.active.failRequests.filter((other) => other !== fault);
    return fault;
  }

  private fires(trigger: FaultTrigger | undefined): boolean {
    if (!trigger) return false;
    if (trigger.next !== undefined && trigger.next > 0) {
      trigger.next -= 1;
      return true;
    }
    return trigger.probability !== undefined && this.random() < trigger.probability;
  }
}
