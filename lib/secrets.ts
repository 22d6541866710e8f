import crypto from 'node:crypto';

/**
 * AES-256-GCM envelope for secrets at rest (Teamwork.com API keys, webhook tokens, OAuth tokens).
 * Each ciphertext names the key that sealed it, so keys can rotate: the first key encrypts,
 * every listed key can still decrypt.
 */
export interface SealedSecret {
  keyId: string;
  iv: string;
  tag: string;
  data: string;
}

export interface SecretBox {
  seal(plaintext: string): SealedSecret;
  open(sealed: SealedSecret): string;
}

export function parseKeyring(spec: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const entry of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [keyId, material] = entry.split(':');
    const key = Buffer.from(material ?? '', 'base64');
    if (!keyId || key.length !== 32) throw new Error('TOKEN_ENCRYPTION_KEYS entries must be keyId:base64 of 32 bytes');
    keys.set(keyId, key);
  }
  if (keys.size === 0) throw new Error('TOKEN_ENCRYPTION_KEYS has no keys');
  return keys;
}

export function createSecretBox(keyring: Map<string, Buffer>): SecretBox {
  const [activeKeyId, activeKey] = [...keyring.entries()][0]!;
  return {
    seal(plaintext) {
      const iv = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv('aes-256-gcm', activeKey, iv);
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return { keyId: activeKeyId, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
    },
    open(sealed) {
      const key = keyring.get(sealed.keyId);
      if (!key) throw new Error(`no key ${sealed.keyId} in TOKEN_ENCRYPTION_KEYS`);
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
    },
  };
}

export function generateKeyringSpec(keyId = 'k1'): string {
  return `${keyId}:${crypto.randomBytes(32).toString('base64')}`;
}

/** Opaque bearer tokens are stored only as their SHA-256; lookups hash the presented token. */
export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

export function newToken(prefix: string): string {
  return `${prefix}_${crypto.randomBytes(24).toString('base64url')}`;
}
