import { Schema, model, type InferSchemaType } from 'mongoose';

export const outgoingMailKinds = ['reply', 'forward'] as const;
export type OutgoingMailKind = (typeof outgoingMailKinds)[number];
/** `pending` until the provider has accepted it (then `sent`), or `failed` for good. */
export const outgoingMailStates = ['pending', 'sent', 'failed'] as const;

const addressSchema = new Schema({ address: { type: String, required: true }, name: String }, { _id: false });

/**
 * A reply or forward written in Desk and sent through the inbox's mailbox (I9). It is stored
 * before anything reaches the provider, with what a retried send needs to find out whether an
 * earlier attempt already got through: the RFC Message-ID (Gmail: ours; Graph: the draft's) and
 * the marks taken just before the provider call.
 */
const outgoingMailSchema = new Schema(
  {
    siteId: { type: Schema.Types.ObjectId, required: true },
    inboxId: { type: Schema.Types.ObjectId, required: true },
    ticketId: { type: Schema.Types.ObjectId, required: true, index: true },
    authorId: { type: Schema.Types.ObjectId, required: true },
    kind: { type: String, enum: outgoingMailKinds, required: true },
    state: { type: String, enum: outgoingMailStates, default: 'pending' },
    workflowId: { type: String, required: true },
    /** The ticket message answered (reply) or passed on (forward). */
    basisMessageId: { type: Schema.Types.ObjectId, required: true },
    to: { type: [addressSchema], default: [] },
    cc: { type: [addressSchema], default: [] },
    subject: { type: String, required: true },
    text: { type: String, required: true },
    /** Without angle brackets, as the importer stores Message-IDs. */
    rfcMessageId: String,
    inReplyTo: { type: [String], default: [] },
    references: { type: [String], default: [] },
    /** Set right before the first provider send; a later attempt checks the provider first. */
    sendAttemptedAt: Date,
    /** Gmail: the mailbox's historyId just before sending, where a retry looks for the sent copy. */
    gmailHistoryId: String,
    /** Graph: the draft made by createReply/createForward, sent by `send`; immutable id. */
    graphDraftId: String,
    providerMessageId: String,
    providerThreadId: String,
    ticketMessageId: Schema.Types.ObjectId,
    sentAt: Date,
    failure: { type: new Schema({ type: { type: String }, message: String }, { _id: false }), default: null },
  },
  { timestamps: true, autoIndex: false, minimize: false },
);

export const OutgoingMailModel = model('OutgoingMail', outgoingMailSchema);
export type OutgoingMail = InferSchemaType<typeof outgoingMailSchema>;
