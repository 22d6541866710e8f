import { Schema, model } from 'mongoose';

/**
 * A broken link (C11). Once either side deleted its record, Teamwork.com events about that id
 * are ignored for good: nothing recreates or edits the record on the other side.
 */
const linkTombstoneSchema = new Schema(
  {
    /** `${siteId}:${entity}:${teamworkId}` */
    key: { type: String, required: true, unique: true },
    siteId: { type: Schema.Types.ObjectId, required: true },
    entity: { type: String, enum: ['company', 'customer'], required: true },
    teamworkId: { type: Number, required: true },
    brokenBy: { type: String, enum: ['desk', 'teamwork'], required: true },
    at: { type: Date, default: () => new Date() },
  },
  { autoIndex: false },
);

export const LinkTombstoneModel = model('LinkTombstone', linkTombstoneSchema);
export const tombstoneKey = (siteId: unknown, entity: 'company' | 'customer', teamworkId: number): string => `${String(siteId)}:${entity}:${teamworkId}`;
