import { Schema, model, type InferSchemaType, type HydratedDocument } from 'mongoose';

/**
 * `pending` until the creation activity has the Teamwork.com task; then Teamwork.com's own status
 * (`new`, `reopened`, `completed`, `deleted`); `failed` when Teamwork.com refused the task.
 */
export const ticketTaskStates = ['pending', 'new', 'reopened', 'completed', 'deleted', 'failed'] as const;
export type TicketTaskState = (typeof ticketTaskStates)[number];

/** A Teamwork.com task created from a ticket (I13): the ticket's side of the link. */
const ticketTaskSchema = new Schema(
  {
    siteId: { type: Schema.Types.ObjectId, required: true },
    ticketId: { type: Schema.Types.ObjectId, required: true },
    /** `${ticketId}:${client request id}`: the same request twice is the same task. */
    requestKey: { type: String, required: true, unique: true },
    workflowId: { type: String, required: true },
    tasklistId: { type: Number, required: true },
    title: { type: String, required: true },
    description: { type: String, default: '' },
    /** Teamwork.com person id. */
    assigneeId: Number,
    /** YYYY-MM-DD. */
    dueDate: String,
    teamworkTaskId: Number,
    /** `${siteId}:${teamworkTaskId}` once created: task webhooks find their ticket task by it. */
    teamworkKey: { type: String, unique: true, sparse: true },
    state: { type: String, enum: ticketTaskStates, default: 'pending' },
    progress: { type: Number, default: 0 },
    /** Teamwork.com's updatedAt of the state held here; older re-reads never overwrite newer ones. */
    teamworkUpdatedAt: String,
    createdBy: { type: Schema.Types.ObjectId, required: true },
    failure: { type: new Schema({ type: { type: String }, message: String }, { _id: false }), default: null },
  },
  { timestamps: true, autoIndex: false, minimize: false },
);
ticketTaskSchema.index({ ticketId: 1, _id: 1 });

export const TicketTaskModel = model('TicketTask', ticketTaskSchema);
export type TicketTask = InferSchemaType<typeof ticketTaskSchema>;
export type TicketTaskDocument = HydratedDocument<TicketTask>;

/**
 * The line every task created from a ticket carries in its description: the way back to the
 * ticket, and the marker by which a retried creation finds the task an earlier attempt made.
 */
export const ticketTaskMarker = (ticketTaskId: unknown): string => `[deskbridge-ticket-task:${String(ticketTaskId)}]`;
const markerPattern = /\[deskbridge-ticket-task:([0-9a-f]{24})\]/;
export const ticketTaskIdInMarker = (description: string | undefined): string | undefined => description?.match(markerPattern)?.[1];
