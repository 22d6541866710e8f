import { Schema, model, type InferSchemaType, type HydratedDocument } from 'mongoose';
import { origins, syncStatusSchema } from './sync-state';

const companySchema = new Schema(
  {
    siteId: { type: Schema.Types.ObjectId, required: true, index: true },
    name: { type: String, required: true },
    /** `${siteId}:${normalised name}`: Desk company names are unique per site (C2 matching). */
    nameKey: { type: String, required: true, unique: true },
    website: String,
    email: String,
    domains: { type: [String], default: [] },
    origin: { type: String, enum: origins, required: true },
    teamworkId: Number,
    /** `${siteId}:${teamworkId}` while linked; absent otherwise. Makes every link write idempotent. */
    teamworkKey: { type: String, unique: true, sparse: true },
    linked: { type: Boolean, default: false },
    /** Field values both sides agreed on at the last sync: the base of the three-way merge (C13). */
    syncBase: { type: Schema.Types.Mixed },
    syncStatus: { type: syncStatusSchema, default: () => ({}) },
    /** Desk-side edit time per synced field: the 'latest' conflict policy compares it (C13). */
    fieldEditedAt: { type: Schema.Types.Mixed, default: () => ({}) },
    /** Bumped on every write; sync writes are conditional on it so a concurrent edit is never lost. */
    revision: { type: Number, default: 0 },
    /** C4: the company was created with "Add as a client in Teamwork.com". */
    addAsClient: { type: Boolean, default: false },
  },
  { timestamps: true, autoIndex: false, minimize: false },
);
companySchema.index({ siteId: 1, domains: 1 });

export const CompanyModel = model('Company', companySchema);
export type Company = InferSchemaType<typeof companySchema>;
export type CompanyDocument = HydratedDocument<Company>;
