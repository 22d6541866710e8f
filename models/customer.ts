import { Schema, model, type InferSchemaType, type HydratedDocument } from 'mongoose';
import { origins, syncStatusSchema } from './sync-state';

const customerSchema = new Schema(
  {
    siteId: { type: Schema.Types.ObjectId, required: true, index: true },
    firstName: String,
    lastName: String,
    email: String,
    /** `${siteId}:${lower-cased primary email}`; customers match by it (C2, I7). */
    emailKey: { type: String, unique: true, sparse: true },
    alternativeEmails: { type: [String], default: [] },
    avatarUrl: String,
    socialNetworks: {
      twitter: String,
      linkedin: String,
      facebook: String,
    },
    companyId: { type: Schema.Types.ObjectId, index: true },
    origin: { type: String, enum: origins, required: true },
    teamworkId: Number,
    teamworkKey: { type: String, unique: true, sparse: true },
    linked: { type: Boolean, default: false },
    syncBase: { type: Schema.Types.Mixed },
    syncStatus: { type: syncStatusSchema, default: () => ({}) },
    fieldEditedAt: { type: Schema.Types.Mixed, default: () => ({}) },
    revision: { type: Number, default: 0 },
  },
  { timestamps: true, autoIndex: false, minimize: false },
);
customerSchema.index({ siteId: 1, createdAt: 1 });

export const CustomerModel = model('Customer', customerSchema);
export type Customer = InferSchemaType<typeof customerSchema>;
export type CustomerDocument = HydratedDocument<Customer>;
