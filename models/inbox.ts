import { Schema, model, type InferSchemaType, type HydratedDocument } from 'mongoose';
import { sealedSecretSchema } from './sealed-secret';

export const mailProviders = ['gmail', 'outlook'] as const;
export type MailProvider = (typeof mailProviders)[number];
export const filterModes = ['client_only', 'all'] as const;
export const memberAccesses = ['read_only', 'read_reply'] as const;
export type MemberAccess = (typeof memberAccesses)[number];
/** `pending`: created, never connected; `needs_reconnect`: consent revoked or expired (I2). */
export const inboxStatuses = ['pending', 'connected', 'needs_reconnect'] as const;
export type InboxStatus = (typeof inboxStatuses)[number];
export const importStates = ['not_started', 'running', 'following', 'paused', 'failed'] as const;

const memberSchema = new Schema(
  {
    userId: { type: Schema.Types.ObjectId, required: true },
    access: { type: String, enum: memberAccesses, required: true },
    inboxAdmin: { type: Boolean, default: false },
  },
  { _id: false },
);

/** Backfill progress (O2), mirrored here by the mailbox workflow so it stays readable after it ends. */
const importCountsSchema = new Schema(
  {
    listed: { type: Number, default: 0 },
    imported: { type: Number, default: 0 },
    ticketsCreated: { type: Number, default: 0 },
    customersCreated: { type: Number, default: 0 },
    duplicates: { type: Number, default: 0 },
    skippedAutomated: { type: Number, default: 0 },
    skippedExcluded: { type: Number, default: 0 },
    skippedFiltered: { type: Number, default: 0 },
    gone: { type: Number, default: 0 },
  },
  { _id: false },
);

const inboxSchema = new Schema(
  {
    siteId: { type: Schema.Types.ObjectId, required: true, index: true },
    type: { type: String, enum: ['individual'], default: 'individual' },
    name: { type: String, required: true },
    provider: { type: String, enum: mailProviders, required: true },
    importEmails: { type: Boolean, default: true },
    filterMode: { type: String, enum: filterModes, default: 'client_only' },
    excludedDomains: { type: [String], default: [] },
    members: { type: [memberSchema], default: [] },
    createdBy: { type: Schema.Types.ObjectId, required: true },
    /** I11: both off by default for individual inboxes. */
    notifications: { type: Boolean, default: false },
    happinessRatings: { type: Boolean, default: false },
    status: { type: String, enum: inboxStatuses, default: 'pending' },
    /** Lower-cased address of the connected mailbox; Gmail push notifications name only this. */
    mailboxAddress: { type: String, index: true },
    connectedAt: Date,
    workflowId: String,
    import: {
      state: { type: String, enum: importStates, default: 'not_started' },
      phase: String,
      backfillDone: { type: Boolean, default: false },
      startedAt: Date,
      since: Date,
      counts: { type: importCountsSchema, default: () => ({}) },
      failure: { type: new Schema({ type: { type: String }, message: String }, { _id: false }), default: null },
    },
    /** Provider push channel: Gmail watch or Graph subscription. */
    push: {
      /** Graph subscription id; notifications are routed to the inbox by it. */
      subscriptionId: { type: String, unique: true, sparse: true },
      clientState: { type: sealedSecretSchema, select: false },
      expiresAt: Date,
      renewedAt: Date,
    },
  },
  { timestamps: true, autoIndex: false, minimize: false },
);
inboxSchema.index({ siteId: 1, createdBy: 1 });
inboxSchema.index({ siteId: 1, 'members.userId': 1 });

export const InboxModel = model('Inbox', inboxSchema);
export type Inbox = InferSchemaType<typeof inboxSchema>;
export type InboxDocument = HydratedDocument<Inbox>;
export type ImportCounts = InferSchemaType<typeof importCountsSchema>;
