import crypto from 'node:crypto';
import fs from 'node:fs';
import { google } from './google';
import type { OAuth2Client } from 'google-auth-library';
import type { Config } from '../../lib/config';
import type { MailProvider } from '../../models/inbox';
import { postForm } from './http';
import { MailProviderError, NeedsReconnectError, providerErrorFor } from './errors';

/** Least privilege for import and replies (I3, I9). */
const GMAIL_SCOPES = ['https://www.googleapis.com/auth/gmail.readonly', 'https://www.googleapis.com/auth/gmail.send'];
const MICROSOFT_SCOPES = 'offline_access User.Read Mail.Read Mail.Send';

export interface ProviderTokens {
  accessToken: string;
  /** Google returns one only at consent; Microsoft rotates it on every refresh. */
  refreshToken?: string;
  expiresAt: Date;
  scope?: string;
}

/** Provider endpoints and credentials from config; the public services when nothing is set. */
export interface MailProviderSettings {
  gmailRootUrl: string;
  google: { authUrl: string; tokenUrl: string; clientId: string; clientSecret: string };
  graphBaseUrl: string;
  microsoft: { authorizeUrl: string; tokenUrl: string; clientId: string; clientSecret: string };
  /** Extra CA for Graph and Microsoft identity (the local emulator's); normal TLS when absent. */
  graphCa?: string;
}

export function mailProviderSettings(config: Config): MailProviderSettings {
  const identity = (config.MS_IDENTITY_BASE_URL ?? 'https://login.microsoftonline.com').replace(/\/$/, '');
  return {
    gmailRootUrl: config.GMAIL_API_ROOT_URL ?? 'https://gmail.googleapis.com/',
    google: {
      authUrl: config.GOOGLE_OAUTH_AUTH_URL ?? 'https://accounts.google.com/o/oauth2/v2/auth',
      tokenUrl: config.GOOGLE_OAUTH_TOKEN_URL ?? 'https://oauth2.googleapis.com/token',
      clientId: config.GOOGLE_CLIENT_ID ?? '',
      clientSecret: config.GOOGLE_CLIENT_SECRET ?? '',
    },
    graphBaseUrl: (config.GRAPH_BASE_URL ?? 'https://graph.microsoft.com').replace(/\/$/, ''),
    microsoft: {
      authorizeUrl: `${identity}/${config.MS_TENANT}/oauth2/v2.0/authorize`,
      tokenUrl: `${identity}/${config.MS_TENANT}/oauth2/v2.0/token`,
      clientId: config.MS_CLIENT_ID ?? '',
      clientSecret: config.MS_CLIENT_SECRET ?? '',
    },
    graphCa: config.GRAPH_CA_FILE ? fs.readFileSync(config.GRAPH_CA_FILE, 'utf8') : undefined,
  };
}

/** A google-auth-library client aimed at the configured endpoints, never refreshing by itself. */
export function googleOAuthClient(settings: MailProviderSettings, redirectUri?: string): OAuth2Client {
  return new google.auth.OAuth2({
    clientId: settings.google.clientId,
    clientSecret: settings.google.clientSecret,
    redirectUri,
    // Under CommonJS test runtimes gaxios cannot lazy-load node-fetch; Node's fetch always works.
    transporterOptions: { fetchImplementation: fetch },
    endpoints: { oauth2AuthBaseUrl: settings.google.authUrl, oauth2TokenUrl: settings.google.tokenUrl },
  });
}

export function pkcePair(): { codeVerifier: string; codeChallenge: string } {
  const codeVerifier = crypto.randomBytes(48).toString('base64url');
  return { codeVerifier, codeChallenge: crypto.createHash('sha256').update(codeVerifier).digest('base64url') };
}

export function consentUrl(
  settings: MailProviderSettings,
  provider: MailProvider,
  input: { state: string; codeChallenge: string; redirectUri: string; loginHint?: string },
): string {
  if (provider === 'gmail') {
    return googleOAuthClient(settings, input.redirectUri).generateAuthUrl({
      access_type: 'offline',
      prompt: 'consent',
      scope: GMAIL_SCOPES,
      state: input.state,
      code_challenge: input.codeChallenge,
      code_challenge_method: 'S256' as never,
      ...(input.loginHint ? { login_hint: input.loginHint } : {}),
    });
  }
  const url = new URL(settings.microsoft.authorizeUrl);
  url.search = new URLSearchParams({
    client_id: settings.microsoft.clientId,
    response_type: 'code',
    redirect_uri: input.redirectUri,
    response_mode: 'query',
    scope: MICROSOFT_SCOPES,
    state: input.state,
    code_challenge: input.codeChallenge,
    code_challenge_method: 'S256',
    ...(input.loginHint ? { login_hint: input.loginHint } : {}),
  }).toString();
  return url.toString();
}

export async function exchangeAuthorizationCode(
  settings: MailProviderSettings,
  provider: MailProvider,
  input: { code: string; codeVerifier: string; redirectUri: string },
): Promise<ProviderTokens> {
  if (provider === 'gmail') {
    try {
      const { tokens } = await googleOAuthClient(settings, input.redirectUri).getToken({ code: input.code, codeVerifier: input.codeVerifier, redirect_uri: input.redirectUri });
      if (!tokens.access_token) throw new MailProviderError('MailProviderRejected', 'Google returned no access token');
      return {
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token ?? undefined,
        expiresAt: new Date(tokens.expiry_date ?? Date.now() + 3_000_000),
        scope: tokens.scope ?? undefined,
      };
    } catch (err) {
      throw googleTokenError(err);
    }
  }
  return microsoftTokenRequest(settings, {
    grant_type: 'authorization_code',
    code: input.code,
    code_verifier: input.codeVerifier,
    redirect_uri: input.redirectUri,
    scope: MICROSOFT_SCOPES,
  });
}

/** Redeems a refresh token. `invalid_grant` means the consent is gone (NeedsReconnectError). */
export async function refreshAccessToken(settings: MailProviderSettings, provider: MailProvider, refreshToken: string): Promise<ProviderTokens> {
  if (provider === 'gmail') {
    const client = googleOAuthClient(settings);
    client.setCredentials({ refresh_token: refreshToken });
    try {
      const { token } = await client.getAccessToken();
      if (!token) throw new MailProviderError('MailProviderRejected', 'Google returned no access token');
      return { accessToken: token, expiresAt: new Date(client.credentials.expiry_date ?? Date.now() + 3_000_000), scope: client.credentials.scope ?? undefined };
    } catch (err) {
      throw googleTokenError(err);
    }
  }
  return microsoftTokenRequest(settings, { grant_type: 'refresh_token', refresh_token: refreshToken, scope: MICROSOFT_SCOPES });
}

async function microsoftTokenRequest(settings: MailProviderSettings, form: Record<string, string>): Promise<ProviderTokens> {
  let response;
  try {
    response = await postForm(
      settings.microsoft.tokenUrl,
      { client_id: settings.microsoft.clientId, client_secret: settings.microsoft.clientSecret, ...form },
      { ca: settings.graphCa },
    );
  } catch (err) {
    throw new MailProviderError('MailProviderUnavailable', `Microsoft token endpoint unreachable: ${(err as Error).message}`);
  }
  const body = response.body;
  if (response.status === 200 && typeof body.access_token === 'string') {
    return {
      accessToken: body.access_token,
      refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : undefined,
      expiresAt: new Date(Date.now() + Number(body.expires_in ?? 3600) * 1000),
      scope: typeof body.scope === 'string' ? body.scope : undefined,
    };
  }
  const error = String(body.error ?? 'unknown_error');
  if (isRevokedGrant(error)) throw new NeedsReconnectError(`Microsoft refused the grant (${error})`);
  throw providerErrorFor(response.status, `Microsoft token endpoint answered ${response.status} ${error}`);
}

/** invalid_grant, or Microsoft's interaction/consent errors: only the user can fix them (I2). */
function isRevokedGrant(error: string): boolean {
  return error === 'invalid_grant' || error === 'interaction_required' || error === 'consent_required';
}

function googleTokenError(err: unknown): unknown {
  if (err instanceof MailProviderError) return err;
  const response = (err as { response?: { status?: number; data?: { error?: string } } }).response;
  if (!response?.status) return new MailProviderError('MailProviderUnavailable', `Google token endpoint unreachable: ${(err as Error).message}`);
  const error = response.data?.error ?? 'unknown_error';
  if (isRevokedGrant(error)) return new NeedsReconnectError(`Google refused the grant (${error})`);
  return providerErrorFor(response.status, `Google token endpoint answered ${response.status} ${error}`);
}
