import { Schema } from 'mongoose';

/** Stored form of lib/secrets SealedSecret; never selected unless asked for. */
export const sealedSecretSchema = new Schema(
  { keyId: String, iv: String, tag: String, data: String },
  { _id: false },
);
