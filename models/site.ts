import { Schema, model, type InferSchemaType, type HydratedDocument } from 'mongoose';
import { sealedSecretSchema } from './sealed-secret';

export const plans = ['free', 'premium', 'enterprise'] as const;
export const conflictPolicies = ['latest', 'teamwork', 'desk'] as const;
export type ConflictPolicy = (typeof conflictPolicies)[number];

const syncCountsSchema = new Schema(
  {
    companiesSeen: { type: Number, default: 0 },
    companiesCreated: { type: Number, default: 0 },
    companiesMatched: { type: Number, default: 0 },
    customersSeen: { type: Number, default: 0 },
    customersCreated: { type: Number, default: 0 },
    customersMatched: { type: Number, default: 0 },
    alreadyLinked: { type: Number, default: 0 },
    skipped: { type: Number, default: 0 },
  },
  { _id: false },
);

const siteSchema = new Schema(
  {
    name: { type: String, required: true },
    slug: { type: String, required: true, unique: true },
    plan: { type: String, enum: plans, default: 'free' },
    settings: {
      autoCreateContacts: { type: Boolean, default: false },
      conflictPolicy: { type: String, enum: conflictPolicies, default: 'latest' },
      paused: { type: Boolean, default: false },
    },
    teamwork: {
      type: new Schema(
        {
          baseUrl: { type: String, required: true },
          apiKey: { type: sealedSecretSchema, select: false },
          webhookToken: { type: sealedSecretSchema, select: false },
          webhookIds: { type: [Number], default: [] },
          ownerCompanyId: Number,
          linkedAt: Date,
        },
        { _id: false },
      ),
      required: false,
    },
    /** Teamwork.com `updatedAt` up to which reconciliation has looked (C3). */
    reconcileCursor: String,
    pausedAt: Date,
    initialSync: {
      workflowId: String,
      state: { type: String, enum: ['not_started', 'running', 'completed', 'failed'], default: 'not_started' },
      phase: String,
      startedAt: Date,
      finishedAt: Date,
      counts: { type: syncCountsSchema, default: () => ({}) },
      /** Why the last run stopped for good (C15): a permanent rejection is shown, not retried. */
      failure: { type: new Schema({ type: { type: String }, message: String }, { _id: false }), default: null },
    },
  },
  { timestamps: true, autoIndex: false },
);

export const SiteModel = model('Site', siteSchema);
export type Site = InferSchemaType<typeof siteSchema>;
export type SiteDocument = HydratedDocument<Site>;
export type SyncCounts = InferSchemaType<typeof syncCountsSchema>;
