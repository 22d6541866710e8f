import { setTimeout as sleep } from 'node:timers/promises';
import type { SecretBox } from '../../lib/secrets';
import { InboxModel, OAuthConnectionModel, OAuthRefreshClaimModel, type MailProvider } from '../../models';
import { isDuplicateKey } from '../failures';
import { NeedsReconnectError } from './errors';
import { refreshAccessToken, type MailProviderSettings } from './oauth';

/** A token this close to expiry is refreshed first, so it cannot lapse mid-request. */
const EXPIRY_SKEW_MS = 60_000;
/** A refresh claim older than this is taken to belong to a process that died. */
const REFRESH_LEASE_MS = 30_000;
const CLAIM_POLL_MS = 100;

interface CachedToken {
  token: string;
  expiresAt: number;
}

/**
 * Access tokens per inbox (I2). Within a process one refresh runs at a time per inbox (callers
 * asking meanwhile share it); across processes the refresh of token version v is claimed by
 * inserting a unique key, so only one process redeems the refresh token and the rotated one
 * Microsoft returns is the one kept. A refused grant marks the inbox `needs_reconnect` once; after that
 * no provider call is made until the user reconnects.
 */
export class MailTokenService {
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly cache = new Map<string, CachedToken>();

  constructor(
    private readonly secrets: SecretBox,
    private readonly settings: MailProviderSettings,
  ) {}

  async accessToken(inboxId: string, rejected?: string): Promise<string> {
    const cached = this.cache.get(inboxId);
    if (cached && cached.token !== rejected && cached.expiresAt - EXPIRY_SKEW_MS > Date.now()) return cached.token;
    const running = this.inFlight.get(inboxId);
    if (running) {
      const token = await running;
      if (token !== rejected) return token;
    }
    const flight = this.resolve(inboxId, rejected).finally(() => this.inFlight.delete(inboxId));
    this.inFlight.set(inboxId, flight);
    return flight;
  }

  private async resolve(inboxId: string, rejected: string | undefined): Promise<string> {
    for (;;) {
      const connection = await OAuthConnectionModel.findOne({ inboxId }).select('+accessToken +refreshToken').lean();
      if (!connection || connection.revokedAt || !connection.refreshToken) throw new NeedsReconnectError();
      const stored = connection.accessToken ? this.secrets.open(connection.accessToken as never) : undefined;
      const expiresAt = connection.accessTokenExpiresAt?.getTime() ?? 0;
      if (stored && stored !== rejected && expiresAt - EXPIRY_SKEW_MS > Date.now()) {
        this.cache.set(inboxId, { token: stored, expiresAt });
        return stored;
      }
      const version = connection.tokenVersion ?? 0;
      const claimKey = `${inboxId}:${version}`;
      if (await this.claim(claimKey)) {
        try {
          return await this.refresh(inboxId, connection._id, version, connection.provider as MailProvider, this.secrets.open(connection.refreshToken as never));
        } catch (err) {
          // A successful claim stays: its version is spent, so a late reader cannot claim it again.
          await OAuthRefreshClaimModel.deleteOne({ key: claimKey });
          throw err;
        }
      }
      // Another process is refreshing this version: wait for its token, or take over a dead claim.
      await sleep(CLAIM_POLL_MS);
      await OAuthRefreshClaimModel.deleteOne({ key: claimKey, claimedAt: { $lt: new Date(Date.now() - REFRESH_LEASE_MS) } });
    }
  }

  private async claim(key: string): Promise<boolean> {
    try {
      await OAuthRefreshClaimModel.create({ key, claimedAt: new Date() });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  private async refresh(inboxId: string, connectionId: unknown, version: number, provider: MailProvider, refreshToken: string): Promise<string> {
    let tokens;
    try {
      tokens = await refreshAccessToken(this.settings, provider, refreshToken);
    } catch (err) {
      if (err instanceof NeedsReconnectError) {
        // Conditional on the version: a reconnect that stored new tokens meanwhile is not undone.
        const revokedAt = new Date();
        await OAuthConnectionModel.updateOne({ _id: connectionId, tokenVersion: version }, { $set: { revokedAt } });
        if (await OAuthConnectionModel.exists({ _id: connectionId, tokenVersion: version, revokedAt })) {
          await InboxModel.updateOne({ _id: inboxId, status: 'connected' }, { $set: { status: 'needs_reconnect', 'import.state': 'paused' } });
        }
      }
      throw err;
    }
    await OAuthConnectionModel.updateOne(
      { _id: connectionId, tokenVersion: version },
      {
        $set: {
          accessToken: this.secrets.seal(tokens.accessToken),
          accessTokenExpiresAt: tokens.expiresAt,
          // Microsoft rotates refresh tokens on every use; keep the newest.
          ...(tokens.refreshToken ? { refreshToken: this.secrets.seal(tokens.refreshToken) } : {}),
        },
        $inc: { tokenVersion: 1 },
      },
    );
    this.cache.set(inboxId, { token: tokens.accessToken, expiresAt: tokens.expiresAt.getTime() });
    return tokens.accessToken;
  }
}
