import { Schema, model, type InferSchemaType } from 'mongoose';

export const roles = ['owner', 'admin', 'agent'] as const;
export type Role = (typeof roles)[number];

const userSchema = new Schema(
  {
    siteId: { type: Schema.Types.ObjectId, required: true, index: true },
    email: { type: String, required: true },
    /** `${siteId}:${lower-cased email}`: one user per address per site. */
    emailKey: { type: String, required: true, unique: true },
    firstName: String,
    lastName: String,
    role: { type: String, enum: roles, required: true },
    /** SHA-256 of the user's API token; the token itself is shown once and never stored. */
    tokenHash: { type: String, required: true, unique: true, select: false },
  },
  { timestamps: true, autoIndex: false },
);

export const UserModel = model('User', userSchema);
export type User = InferSchemaType<typeof userSchema>;
