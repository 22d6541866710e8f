import { Schema, model, type InferSchemaType } from 'mongoose';

/** What one sync of a linked record did: fields copied and from where, conflicts settled (C13). */
const syncHistorySchema = new Schema(
  {
    siteId: { type: Schema.Types.ObjectId, required: true },
    entity: { type: String, enum: ['company', 'customer'], required: true },
    deskId: { type: Schema.Types.ObjectId, required: true },
    teamworkId: Number,
    at: { type: Date, default: () => new Date() },
    action: { type: String, enum: ['linked', 'created_in_teamwork', 'created_in_desk', 'synced', 'unlinked', 'rejected'], required: true },
    changes: [{ _id: false, field: String, from: { type: String, enum: ['teamwork', 'desk'] }, value: Schema.Types.Mixed }],
    conflicts: [{ _id: false, field: String, teamwork: Schema.Types.Mixed, desk: Schema.Types.Mixed, winner: String, rule: String, policy: String }],
    reason: String,
  },
  { autoIndex: false, minimize: false },
);
syncHistorySchema.index({ deskId: 1, at: 1 });

export const SyncHistoryModel = model('SyncHistory', syncHistorySchema);
export type SyncHistory = InferSchemaType<typeof syncHistorySchema>;
