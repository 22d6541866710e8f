import { Schema } from 'mongoose';

/**
 * Per-record sync state shown by the API (C7, C12, C15): whether the record is linked to
 * Teamwork.com, and if it is not syncing, why.
 */
export const syncStates = ['synced', 'pending', 'incomplete', 'error', 'not_synced', 'unlinked', 'paused'] as const;
export type SyncState = (typeof syncStates)[number];

export const syncStatusSchema = new Schema(
  {
    state: { type: String, enum: syncStates, default: 'not_synced' },
    reason: String,
    missingFields: { type: [String], default: undefined },
    at: Date,
  },
  { _id: false },
);

export const origins = ['teamwork', 'desk', 'ticket'] as const;
export type Origin = (typeof origins)[number];
