/**
 * Cloud Pub/Sub push delivery for Gmail watch notifications, authenticated the way Pub/Sub
 * does it: an RS256 OIDC token whose key is published as a JWKS, so receivers verify for real.
 */
import { createSign, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';

export interface PushEndpoint {
  url: string;
  /** OIDC `aud`; Pub/Sub defaults it to the push endpoint URL. */
  audience: string;
}

export interface PushDelivery {
  topicName: string;
  url?: string;
  pubsubMessageId: string;
  emailAddress: string;
  historyId: number;
  /** HTTP status of each attempt, in order; empty when dropped or no endpoint is configured. */
  attempts: number[];
  dropped: boolean;
  duplicate: boolean;
  done: boolean;
}

export interface PushOptions {
  serviceAccountEmail: string;
  /** Attempts per notification; Pub/Sub keeps retrying non-2xx answers with backoff. */
  maxAttempts: number;
  retryBaseDelayMs: number;
  /** Gmail sends at most one notification per second per user; 0 disables coalescing. */
  minIntervalPerUserMs: number;
  now: () => number;
}

export interface PushFaultDecider {
  shouldDrop(): boolean;
  shouldDuplicate(): boolean;
}

export const PUSH_SUBSCRIPTION = 'projects/emu/subscriptions/deskbridge';

export class PushPublisher {
  private readonly privateKey: KeyObject;
  readonly keyId = `emu-${randomUUID()}`;
  readonly jwks: { keys: Record<string, unknown>[] };
  private readonly endpoints = new Map<string, PushEndpoint>();
  readonly deliveries: PushDelivery[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lastSentAt = new Map<string, number>();
  private readonly coalesced = new Map<string, { timer: NodeJS.Timeout; historyId: number; topicName: string }>();
  private closed = false;

  constructor(
    private readonly options: PushOptions,
    private readonly faults: PushFaultDecider,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: this.keyId, alg: 'RS256', use: 'sig' }] };
  }

  setEndpoint(topicName: string, url: string, audience = url): void {
    this.endpoints.set(topicName, { url, audience });
  }

  /** A Google-style OIDC ID token as Pub/Sub attaches to authenticated push requests. */
  signOidcToken(audience: string): string {
    const issuedAt = Math.floor(this.options.now() / 1000);
    const header = { alg: 'RS256', kid: this.keyId, typ: 'JWT' };
    const claims = {
      aud: audience,
      azp: '100000000000000000001',
      email: this.options.serviceAccountEmail,
      email_verified: true,
      exp: issuedAt + 3600,
      iat: issuedAt,
      iss: 'https://accounts.google.com',
      sub: '100000000000000000001',
    };
    const signingInput = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(this.privateKey).toString('base64url');
    return `${signingInput}.${signature}`;
  }

  /** Publishes {emailAddress, historyId}, coalescing bursts per user like Gmail does. */
  publish(topicName: string, emailAddress: string, historyId: number): void {
    if (this.closed) return;
    const interval = this.options.minIntervalPerUserMs;
    const pending = this.coalesced.get(emailAddress);
    if (pending) {
      pending.historyId = Math.max(pending.historyId, historyId);
      return;
    }
    const waitMs = interval > 0 ? (this.lastSentAt.get(emailAddress) ?? -Infinity) + interval - this.options.now() : 0;
    if (waitMs > 0) {
      const entry = {
        historyId,
        topicName,
        timer: setTimeout(() => {
          this.coalesced.delete(emailAddress);
          this.publishNow(entry.topicName, emailAddress, entry.historyId);
        }, waitMs),
      };
      this.coalesced.set(emailAddress, entry);
      return;
    }
    this.publishNow(topicName, emailAddress, historyId);
  }

  private publishNow(topicName: string, emailAddress: string, historyId: number): void {
    this.lastSentAt.set(emailAddress, this.options.now());
    const pubsubMessageId = String(10_000_000_000_000 + this.deliveries.length);
    const delivery: PushDelivery = { topicName, pubsubMessageId, emailAddress, historyId, attempts: [], dropped: false, duplicate: false, done: false };
    this.deliveries.push(delivery);
    if (this.faults.shouldDrop()) {
      delivery.dropped = true;
      delivery.done = true;
      return;
    }
    this.track(this.deliver(delivery));
    if (this.faults.shouldDuplicate()) {
      // Pub/Sub is at-least-once: the same messageId can arrive twice.
      const copy: PushDelivery = { ...delivery, attempts: [], duplicate: true, done: false };
      this.deliveries.push(copy);
      this.track(this.deliver(copy));
    }
  }

  private track(promise: Promise<void>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  private async deliver(delivery: PushDelivery): Promise<void> {
    // Asynchronous like the real service: the caller's request completes before the push lands.
    await new Promise((resolve) => setImmediate(resolve));
    const endpoint = this.endpoints.get(delivery.topicName);
    if (!endpoint) {
      delivery.done = true;
      return;
    }
    delivery.url = endpoint.url;
    const publishTime = new Date(this.options.now()).toISOString();
    const data = Buffer.from(JSON.stringify({ emailAddress: delivery.emailAddress, historyId: delivery.historyId })).toString('base64');
    const body = JSON.stringify({
      message: { data, messageId: delivery.pubsubMessageId, message_id: delivery.pubsubMessageId, publishTime, publish_time: publishTime },
      subscription: PUSH_SUBSCRIPTION,
    });
    for (let attempt = 0; attempt < this.options.maxAttempts && !this.closed; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, this.options.retryBaseDelayMs * 2 ** (attempt - 1)));
      try {
        const response = await fetch(endpoint.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.signOidcToken(endpoint.audience)}` },
          body,
        });
        await response.arrayBuffer();
        delivery.attempts.push(response.status);
        if (response.ok) break;
      } catch {
        delivery.attempts.push(0);
      }
    }
    delivery.done = true;
  }

  /** Resolves when every push published so far has been delivered, dropped or given up. */
  async idle(): Promise<void> {
    while (this.inFlight.size || this.coalesced.size) {
      if (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.closed = true;
    for (const entry of this.coalesced.values()) clearTimeout(entry.timer);
    this.coalesced.clear();
  }
}
