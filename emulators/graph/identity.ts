import { createHash, randomBytes, randomUUID } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';

export interface AccessTokenGrant {
  address: string;
  scope: string;
  expiresAt: number;
}

interface RefreshTokenGrant {
  address: string;
  scope: string;
  clientId: string;
  revoked: boolean;
  /** Rotation is tracked so tests can see whether the importer stores the newest token. */
  rotatedTo: string | null;
}

interface AuthorizationCode {
  address: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  codeChallenge: string | null;
  redeemed: boolean;
}

export interface TokenEndpointCall {
  at: Date;
  grantType: string;
  status: number;
  error?: string;
}

export interface IssuedTokens {
  token_type: 'Bearer';
  scope: string;
  expires_in: number;
  ext_expires_in: number;
  access_token: string;
  refresh_token?: string;
}

function opaqueToken(prefix: string): string {
  return `${prefix}${randomBytes(48).toString('base64url')}`;
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** Scopes that shape the grant but are not listed back as granted Graph permissions. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

function grantedScope(requested: string): string {
  return requested.split(/\s+/).filter((scope) => scope && !OIDC_SCOPES.has(scope)).join(' ');
}

/**
 * The Microsoft identity platform v2.0 endpoints the importer's OAuth flow touches: authorize
 * (auto-consent) and token (authorization_code with PKCE, refresh_token with rotation).
 */
export class IdentityPlatform {
  private readonly accessTokens = new Map<string, AccessTokenGrant>();
  private readonly refreshTokens = new Map<string, RefreshTokenGrant>();
  private readonly codes = new Map<string, AuthorizationCode>();
  private readonly calls: TokenEndpointCall[] = [];
  private consentDenialsPending = 0;

  constructor(
    private readonly accessTokenTtlSeconds: number,
    private readonly knowsAccount: (address: string) => boolean,
  ) {}

  /** The account an access token was issued for; throws a reason when it is unusable. */
  authenticate(bearer: string | undefined): AccessTokenGrant | { failure: string } {
    if (!bearer) return { failure: 'Access token is empty.' };
    const grant = this.accessTokens.get(bearer);
    if (!grant) return { failure: 'IDX14100: JWT is not well formed, there are no dots (.).' };
    if (grant.expiresAt <= Date.now()) return { failure: 'Lifetime validation failed, the token is expired.' };
    return grant;
  }

  issue(address: string, scope: string, clientId: string, withRefreshToken: boolean): IssuedTokens {
    const accessToken = opaqueToken('EwA');
    this.accessTokens.set(accessToken, { address, scope, expiresAt: Date.now() + this.accessTokenTtlSeconds * 1000 });
    const tokens: IssuedTokens = {
      token_type: 'Bearer',
      scope,
      expires_in: this.accessTokenTtlSeconds,
      ext_expires_in: this.accessTokenTtlSeconds,
      access_token: accessToken,
    };
    if (withRefreshToken) {
      const refreshToken = opaqueToken('M.C5');
      this.refreshTokens.set(refreshToken, { address, scope, clientId, revoked: false, rotatedTo: null });
      tokens.refresh_token = refreshToken;
    }
    return tokens;
  }

  revokeRefreshTokens(address: string): void {
    for (const grant of this.refreshTokens.values()) if (grant.address === address) grant.revoked = true;
  }

  expireAccessTokens(address: string): void {
    for (const grant of this.accessTokens.values()) if (grant.address === address) grant.expiresAt = 0;
  }

  /** Makes the next `count` authorize requests end with `error=access_denied`, as a user clicking Cancel. */
  denyNextConsents(count: number): void {
    this.consentDenialsPending = count;
  }

  tokenEndpointCalls(): TokenEndpointCall[] {
    return [...this.calls];
  }

  /** Refresh tokens of an account that were used (and so superseded) but still work, as Microsoft allows. */
  rotatedRefreshTokens(address: string): string[] {
    return [...this.refreshTokens].filter(([, grant]) => grant.address === address && grant.rotatedTo !== null).map(([token]) => token);
  }

  router(): Router {
    const router = express.Router();
    router.get('/:tenant/oauth2/v2.0/authorize', (req, res) => this.authorize(req, res));
    router.post('/:tenant/oauth2/v2.0/token', express.urlencoded({ extended: false }), (req, res) => this.token(req, res));
    return router;
  }

  private authorize(req: Request, res: Response): void {
    const query = req.query as Record<string, string | undefined>;
    const { client_id: clientId, redirect_uri: redirectUri, state, login_hint: loginHint } = query;
    if (!clientId || !redirectUri || query.response_type !== 'code') {
      res.status(400).type('text/plain').send('AADSTS900144: The request body must contain the following parameter: client_id, redirect_uri and response_type=code.');
      return;
    }
    const redirect = new URL(redirectUri);
    if (state !== undefined) redirect.searchParams.set('state', state);
    if (this.consentDenialsPending > 0) {
      this.consentDenialsPending -= 1;
      redirect.searchParams.set('error', 'access_denied');
      redirect.searchParams.set('error_description', 'AADSTS65004: User declined to consent to access the app.');
      res.redirect(302, redirect.toString());
      return;
    }
    if (!loginHint || !this.knowsAccount(loginHint)) {
      res.status(400).type('text/plain').send(`AADSTS50034: The user account ${loginHint ?? '(no login_hint)'} does not exist in this emulator.`);
      return;
    }
    if (query.code_challenge && query.code_challenge_method !== 'S256') {
      res.status(400).type('text/plain').send('AADSTS5001XX: The emulator supports code_challenge_method=S256 only.');
      return;
    }
    const code = opaqueToken('0.A');
    this.codes.set(code, {
      address: loginHint.toLowerCase(),
      clientId,
      redirectUri,
      scope: query.scope ?? '',
      codeChallenge: query.code_challenge ?? null,
      redeemed: false,
    });
    redirect.searchParams.set('code', code);
    res.redirect(302, redirect.toString());
  }

  private token(req: Request, res: Response): void {
    const form = (req.body ?? {}) as Record<string, string | undefined>;
    const grantType = form.grant_type ?? '';
    const fail = (status: number, error: string, code: number, description: string) => {
      this.calls.push({ at: new Date(), grantType, status, error });
      const now = new Date();
      res.status(status).json({
        error,
        error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${now.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`,
        error_codes: [code],
        timestamp: now.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
        error_uri: `https://login.microsoftonline.com/error?code=${code}`,
      });
    };
    const succeed = (tokens: IssuedTokens) => {
      this.calls.push({ at: new Date(), grantType, status: 200 });
      res.setHeader('Cache-Control', 'no-store');
      res.status(200).json(tokens);
    };

    if (grantType === 'authorization_code') {
      const code = form.code ? this.codes.get(form.code) : undefined;
      if (!code) return fail(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
      if (code.redeemed) return fail(400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.');
      if (form.client_id !== code.clientId) return fail(400, 'invalid_grant', 70000, 'The provided authorization code was issued to a different client.');
      if (form.redirect_uri !== code.redirectUri) return fail(400, 'invalid_grant', 50148, 'The redirect_uri does not match the one used in the authorization request.');
      if (code.codeChallenge !== null && (!form.code_verifier || s256(form.code_verifier) !== code.codeChallenge)) {
        return fail(400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
      }
      code.redeemed = true;
      // A refresh token is only issued when `offline_access` was requested (identity platform docs).
      const withRefreshToken = code.scope.split(/\s+/).includes('offline_access');
      return succeed(this.issue(code.address, grantedScope(code.scope), code.clientId, withRefreshToken));
    }

    if (grantType === 'refresh_token') {
      const grant = form.refresh_token ? this.refreshTokens.get(form.refresh_token) : undefined;
      if (!grant) return fail(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
      if (grant.revoked) {
        return fail(400, 'invalid_grant', 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.");
      }
      if (form.client_id !== grant.clientId) return fail(400, 'invalid_grant', 700003, 'The refresh token was issued to a different client.');
      // Redeeming a refresh token always yields a new one: Microsoft rotates them on every use.
      const tokens = this.issue(grant.address, grantedScope(form.scope ?? grant.scope), grant.clientId, true);
      grant.rotatedTo = tokens.refresh_token ?? null;
      return succeed(tokens);
    }

    return fail(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`);
  }
}
