import { Schema, model, type InferSchemaType, type HydratedDocument } from 'mongoose';

export const ticketStatuses = ['open', 'pending', 'on_hold', 'solved', 'closed'] as const;
export const ticketPriorities = ['low', 'normal', 'medium', 'high', 'urgent'] as const;

const ticketSchema = new Schema(
  {
    siteId: { type: Schema.Types.ObjectId, required: true, index: true },
    inboxId: { type: Schema.Types.ObjectId, required: true },
    /** Reports leave individual-inbox tickets out on request (I10). */
    inboxType: { type: String, enum: ['individual', 'team'], default: 'individual' },
    subject: { type: String, default: '' },
    status: { type: String, enum: ticketStatuses, default: 'open' },
    priority: { type: String, enum: ticketPriorities, default: 'normal' },
    assigneeId: { type: Schema.Types.ObjectId, default: null },
    tags: { type: [String], default: [] },
    customerId: Schema.Types.ObjectId,
    companyId: Schema.Types.ObjectId,
    fromAddress: String,
    /**
     * `${inboxId}:${provider thread id}` of the message that opened the ticket. Unique, so two
     * activities importing the same new thread at once create one ticket (I6).
     */
    threadKey: { type: String, required: true, unique: true },
    /** Received time of the earliest message; backfill may store a reply before its original. */
    firstMessageAt: { type: Date, required: true },
    lastMessageAt: { type: Date, required: true },
    /** YYYY-MM-DD (UTC) of firstMessageAt, for reports on servers without $dateToString. */
    createdDay: { type: String, required: true },
  },
  { timestamps: true, autoIndex: false, minimize: false },
);
ticketSchema.index({ inboxId: 1, _id: 1 });
ticketSchema.index({ siteId: 1, createdDay: 1 });

export const TicketModel = model('Ticket', ticketSchema);
export type Ticket = InferSchemaType<typeof ticketSchema>;
export type TicketDocument = HydratedDocument<Ticket>;

export const utcDay = (date: Date): string => date.toISOString().slice(0, 10);
