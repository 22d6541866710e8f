/**
 * Google's OAuth 2.0 endpoints as google-auth-library's OAuth2Client uses them: the consent URL
 * (auto-approved), the token endpoint (authorization_code with PKCE, refresh_token), revoke and
 * tokeninfo. Access tokens are opaque and bound to one mailbox.
 */
import { createHash, randomBytes } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';

export interface AccessTokenRecord {
  address: string;
  clientId: string;
  scope: string;
  expiresAt: number;
}

interface RefreshTokenRecord {
  address: string;
  clientId: string;
  scope: string;
  revoked: boolean;
}

interface AuthorizationCode {
  address: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  offline: boolean;
  expiresAt: number;
}

export interface TokenEndpointCall {
  at: Date;
  grantType: string;
  address?: string;
  /** `ok` or the OAuth error code returned. */
  outcome: string;
}

export interface OAuthClientRegistration {
  clientId: string;
  clientSecret: string;
}

export interface OAuthOptions {
  accessTokenTtlSeconds: number;
  /** When given, client credentials are checked; otherwise any client id/secret is accepted. */
  clients?: OAuthClientRegistration[];
  now: () => number;
  /** Mailbox chosen when the consent URL names none; creates unknown login_hint accounts. */
  resolveConsentAccount: (loginHint: string | undefined) => string | undefined;
}

const AUTH_CODE_TTL_MS = 10 * 60_000;

function opaqueToken(prefix: string): string {
  return `${prefix}${randomBytes(24).toString('base64url')}`;
}

export class OAuthServer {
  private readonly accessTokens = new Map<string, AccessTokenRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly codes = new Map<string, AuthorizationCode>();
  readonly calls: TokenEndpointCall[] = [];
  /** Consent answers queued by control.denyNextConsent(). */
  private pendingConsentDenials = 0;

  constructor(private readonly options: OAuthOptions) {}

  /** Validates a bearer token; undefined when missing, unknown or expired. */
  authenticate(token: string | undefined): AccessTokenRecord | undefined {
    if (!token) return undefined;
    const record = this.accessTokens.get(token);
    if (!record || record.expiresAt <= this.options.now()) return undefined;
    return record;
  }

  issueAccessToken(address: string, clientId: string, scope: string): { access_token: string; expires_in: number } {
    const accessToken = opaqueToken('ya29.emu-');
    const ttl = this.options.accessTokenTtlSeconds;
    this.accessTokens.set(accessToken, { address, clientId, scope, expiresAt: this.options.now() + ttl * 1000 });
    // Google reports one second less than the lifetime, e.g. 3599.
    return { access_token: accessToken, expires_in: Math.max(0, ttl - 1) };
  }

  issueRefreshToken(address: string, clientId: string, scope: string): string {
    const refreshToken = opaqueToken('1//emu-');
    this.refreshTokens.set(refreshToken, { address, clientId, scope, revoked: false });
    return refreshToken;
  }

  revokeRefreshTokens(address: string): void {
    for (const record of this.refreshTokens.values()) if (record.address === address) record.revoked = true;
    // Revoking a grant also kills the access tokens minted from it.
    this.expireAccessTokens(address);
  }

  expireAccessTokens(address: string): void {
    for (const record of this.accessTokens.values()) if (record.address === address) record.expiresAt = 0;
  }

  denyNextConsent(times = 1): void {
    this.pendingConsentDenials += times;
  }

  router(): Router {
    const router = express.Router();
    router.get('/o/oauth2/v2/auth', (request, response) => this.handleConsent(request, response));
    router.get('/o/oauth2/auth', (request, response) => this.handleConsent(request, response));
    router.post('/token', express.urlencoded({ extended: false }), express.json(), (request, response) => this.handleToken(request, response));
    router.post('/revoke', express.urlencoded({ extended: false }), (request, response) => this.handleRevoke(request, response));
    router.get('/tokeninfo', (request, response) => this.handleTokenInfo(request, response));
    return router;
  }

  private handleConsent(request: Request, response: Response): void {
    const query = request.query as Record<string, string | undefined>;
    const redirectUri = query.redirect_uri;
    if (!query.client_id || !redirectUri) {
      response.status(400).type('text/plain').send('Error 400: invalid_request. Required parameter is missing: client_id or redirect_uri');
      return;
    }
    if (this.options.clients && !this.options.clients.some((client) => client.clientId === query.client_id)) {
      response.status(401).type('text/plain').send('Error 401: invalid_client. The OAuth client was not found.');
      return;
    }
    const redirect = new URL(redirectUri);
    if (query.state !== undefined) redirect.searchParams.set('state', query.state);
    if (query.response_type !== 'code') {
      redirect.searchParams.set('error', 'unsupported_response_type');
      response.redirect(302, redirect.href);
      return;
    }
    if (query.code_challenge_method && !['S256', 'plain'].includes(query.code_challenge_method)) {
      response.status(400).type('text/plain').send('Error 400: invalid_request. Invalid code_challenge_method');
      return;
    }
    if (this.pendingConsentDenials > 0) {
      this.pendingConsentDenials -= 1;
      redirect.searchParams.set('error', 'access_denied');
      response.redirect(302, redirect.href);
      return;
    }
    const address = this.options.resolveConsentAccount(query.login_hint);
    if (!address) {
      response.status(400).type('text/plain').send('No Google account is registered in the emulator to consent with.');
      return;
    }
    const code = opaqueToken('4/emu-');
    this.codes.set(code, {
      address,
      clientId: query.client_id,
      redirectUri,
      scope: query.scope ?? '',
      codeChallenge: query.code_challenge,
      codeChallengeMethod: query.code_challenge ? (query.code_challenge_method ?? 'plain') : undefined,
      offline: query.access_type === 'offline',
      expiresAt: this.options.now() + AUTH_CODE_TTL_MS,
    });
    redirect.searchParams.set('code', code);
    redirect.searchParams.set('scope', query.scope ?? '');
    response.redirect(302, redirect.href);
  }

  /** Accepts client_secret_post and client_secret_basic, as google-auth-library can send either. */
  private clientCredentials(request: Request): { clientId?: string; clientSecret?: string } {
    const body = (request.body ?? {}) as Record<string, string | undefined>;
    const basic = /^Basic\s+(.+)$/i.exec(request.get('authorization') ?? '');
    if (basic) {
      const [clientId, clientSecret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
      return { clientId: decodeURIComponent(clientId), clientSecret: decodeURIComponent(clientSecret ?? '') };
    }
    return { clientId: body.client_id, clientSecret: body.client_secret };
  }

  private fail(response: Response, call: TokenEndpointCall, status: number, error: string, description: string): void {
    call.outcome = error;
    response.status(status).json({ error, error_description: description });
  }

  private handleToken(request: Request, response: Response): void {
    const body = (request.body ?? {}) as Record<string, string | undefined>;
    const call: TokenEndpointCall = { at: new Date(this.options.now()), grantType: body.grant_type ?? '', outcome: 'ok' };
    this.calls.push(call);
    response.set('Cache-Control', 'no-cache, no-store, max-age=0, must-revalidate');

    const { clientId, clientSecret } = this.clientCredentials(request);
    if (!clientId) return this.fail(response, call, 400, 'invalid_request', 'Could not determine client ID from request.');
    const registered = this.options.clients?.find((client) => client.clientId === clientId);
    if (this.options.clients && (!registered || registered.clientSecret !== clientSecret)) {
      return this.fail(response, call, 401, 'invalid_client', 'Unauthorized');
    }

    if (body.grant_type === 'authorization_code') {
      const code = body.code ? this.codes.get(body.code) : undefined;
      // Codes are single-use: a second exchange fails even if the first one did.
      if (body.code) this.codes.delete(body.code);
      if (!code || code.expiresAt <= this.options.now() || code.clientId !== clientId) {
        return this.fail(response, call, 400, 'invalid_grant', 'Malformed auth code.');
      }
      call.address = code.address;
      if (body.redirect_uri !== code.redirectUri) return this.fail(response, call, 400, 'redirect_uri_mismatch', 'Bad Request');
      if (code.codeChallenge) {
        const verifier = body.code_verifier;
        if (!verifier) return this.fail(response, call, 400, 'invalid_grant', 'Missing code verifier.');
        const expected = code.codeChallengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
        if (expected !== code.codeChallenge) return this.fail(response, call, 400, 'invalid_grant', 'Invalid code verifier.');
      }
      const access = this.issueAccessToken(code.address, clientId, code.scope);
      response.json({
        ...access,
        ...(code.offline ? { refresh_token: this.issueRefreshToken(code.address, clientId, code.scope) } : {}),
        scope: code.scope,
        token_type: 'Bearer',
      });
      return;
    }

    if (body.grant_type === 'refresh_token') {
      const record = body.refresh_token ? this.refreshTokens.get(body.refresh_token) : undefined;
      call.address = record?.address;
      if (!record || record.revoked || record.clientId !== clientId) {
        return this.fail(response, call, 400, 'invalid_grant', 'Token has been expired or revoked.');
      }
      // Google does not rotate refresh tokens, so none comes back here.
      response.json({ ...this.issueAccessToken(record.address, clientId, record.scope), scope: record.scope, token_type: 'Bearer' });
      return;
    }

    this.fail(response, call, 400, 'unsupported_grant_type', `Invalid grant_type: ${body.grant_type ?? ''}`);
  }

  private handleRevoke(request: Request, response: Response): void {
    const token = (request.query.token as string | undefined) ?? (request.body as Record<string, string> | undefined)?.token;
    const refresh = token ? this.refreshTokens.get(token) : undefined;
    const access = token ? this.accessTokens.get(token) : undefined;
    const address = refresh?.address ?? access?.address;
    if (!address) {
      response.status(400).json({ error: 'invalid_token', error_description: 'Token expired or revoked' });
      return;
    }
    this.revokeRefreshTokens(address);
    response.status(200).json({});
  }

  private handleTokenInfo(request: Request, response: Response): void {
    const token = request.query.access_token as string | undefined;
    const record = this.authenticate(token);
    if (!record) {
      response.status(400).json({ error: 'invalid_token', error_description: 'Invalid Value' });
      return;
    }
    response.json({
      azp: record.clientId,
      aud: record.clientId,
      scope: record.scope,
      exp: String(Math.floor(record.expiresAt / 1000)),
      expires_in: String(Math.max(0, Math.floor((record.expiresAt - this.options.now()) / 1000))),
      email: record.address,
      email_verified: 'true',
      access_type: 'offline',
    });
  }
}
