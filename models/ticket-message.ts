import { Schema, model, type InferSchemaType } from 'mongoose';

const addressSchema = new Schema({ address: String, name: String }, { _id: false });
const attachmentSchema = new Schema(
  { filename: String, contentType: String, size: Number, contentId: String, inline: Boolean },
  { _id: false },
);

const ticketMessageSchema = new Schema(
  {
    siteId: { type: Schema.Types.ObjectId, required: true },
    inboxId: { type: Schema.Types.ObjectId, required: true },
    ticketId: { type: Schema.Types.ObjectId, required: true, index: true },
    providerMessageId: { type: String, required: true },
    /** `${inboxId}:${providerMessageId}`: the same provider message is never stored twice (I6). */
    providerKey: { type: String, required: true, unique: true },
    providerThreadId: String,
    /** `${inboxId}:${providerThreadId}`; later mail of the same provider thread finds its ticket by it. */
    providerThreadKey: { type: String, index: true },
    rfcMessageId: String,
    /** `${inboxId}:${Message-ID}`: the same email listed under two provider ids is stored once (I6). */
    rfcKey: { type: String, unique: true, sparse: true },
    /**
     * `${inboxId}:${id}` for every Message-ID named in In-Reply-To and References: an original
     * imported after its reply (backfill lists newest first) finds the reply's ticket by it (I6).
     */
    parentKeys: { type: [String], default: [], index: true },
    inReplyTo: { type: [String], default: [] },
    references: { type: [String], default: [] },
    direction: { type: String, enum: ['inbound', 'outbound'], default: 'inbound' },
    from: addressSchema,
    to: { type: [addressSchema], default: [] },
    cc: { type: [addressSchema], default: [] },
    subject: String,
    text: String,
    html: String,
    attachments: { type: [attachmentSchema], default: [] },
    receivedAt: { type: Date, required: true },
    sentAt: Date,
  },
  { timestamps: true, autoIndex: false, minimize: false },
);

export const TicketMessageModel = model('TicketMessage', ticketMessageSchema);
export type TicketMessage = InferSchemaType<typeof ticketMessageSchema>;
