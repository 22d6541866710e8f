import { Schema, model, type InferSchemaType } from 'mongoose';
import { sealedSecretSchema } from './sealed-secret';
import { mailProviders } from './inbox';

/**
 * One inbox's provider grant. Tokens are sealed (AES-256-GCM with a key id) and never selected
 * unless asked for. `tokenVersion` moves forward with every stored token; a refresh of version
 * v is claimed in OAuthRefreshClaimModel, so two processes never both redeem (and, at
 * Microsoft, rotate) the refresh token.
 */
const oauthConnectionSchema = new Schema(
  {
    inboxId: { type: Schema.Types.ObjectId, required: true, unique: true },
    siteId: { type: Schema.Types.ObjectId, required: true, index: true },
    provider: { type: String, enum: mailProviders, required: true },
    connectedBy: { type: Schema.Types.ObjectId, required: true },
    mailboxAddress: { type: String, required: true },
    scope: String,
    accessToken: { type: sealedSecretSchema, select: false },
    refreshToken: { type: sealedSecretSchema, select: false },
    accessTokenExpiresAt: Date,
    tokenVersion: { type: Number, default: 0 },
    revokedAt: Date,
  },
  { timestamps: true, autoIndex: false },
);

export const OAuthConnectionModel = model('OAuthConnection', oauthConnectionSchema);
export type OAuthConnection = InferSchemaType<typeof oauthConnectionSchema>;

/**
 * A consent in progress (I2): the `state` is stored only as its hash, is bound to the inbox and
 * the user who asked, expires, and is deleted by the callback that uses it (single use).
 */
const oauthConsentSchema = new Schema(
  {
    stateHash: { type: String, required: true, unique: true },
    inboxId: { type: Schema.Types.ObjectId, required: true },
    siteId: { type: Schema.Types.ObjectId, required: true },
    userId: { type: Schema.Types.ObjectId, required: true },
    provider: { type: String, enum: mailProviders, required: true },
    codeVerifier: { type: sealedSecretSchema, select: false },
    expiresAt: { type: Date, required: true },
  },
  { timestamps: true, autoIndex: false },
);

export const OAuthConsentModel = model('OAuthConsent', oauthConsentSchema);

/**
 * `${inboxId}:${tokenVersion}` of a refresh in progress. An insert into a unique index is the one
 * write FerretDB makes atomically (its updates are read-modify-write, so a compare-and-set
 * update can let two writers through); whoever inserts the key does the refresh.
 */
const oauthRefreshClaimSchema = new Schema(
  {
    key: { type: String, required: true, unique: true },
    claimedAt: { type: Date, required: true },
  },
  { autoIndex: false, versionKey: false },
);

export const OAuthRefreshClaimModel = model('OAuthRefreshClaim', oauthRefreshClaimSchema);
