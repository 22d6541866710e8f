import { Schema, model, type InferSchemaType } from 'mongoose';

/** An internal note on a ticket (I8): seen by everyone with access to the ticket, never mailed. */
const ticketNoteSchema = new Schema(
  {
    siteId: { type: Schema.Types.ObjectId, required: true },
    inboxId: { type: Schema.Types.ObjectId, required: true },
    ticketId: { type: Schema.Types.ObjectId, required: true, index: true },
    authorId: { type: Schema.Types.ObjectId, required: true },
    text: { type: String, required: true },
  },
  { timestamps: true, autoIndex: false },
);

export const TicketNoteModel = model('TicketNote', ticketNoteSchema);
export type TicketNote = InferSchemaType<typeof ticketNoteSchema>;
