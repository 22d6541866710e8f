import { Schema, model } from 'mongoose';

/**
 * Webhook hand-overs that were acknowledged before Temporal accepted them (api/webhook-forwarder.ts),
 * one per delivery, written by the API process `by` that forwards them. Its forwarder deletes
 * the ones it has forwarded; another API process forwards those of a process that stopped
 * heart-beating (crashed or killed mid-way), so an acknowledged change always reaches its
 * workflow. Only ever inserted, and read or deleted in bulk, never one at a time.
 */
const webhookOutboxSchema = new Schema(
  {
    _id: { type: String, required: true },
    by: { type: String, required: true },
    receivedAt: { type: Date, required: true },
    handOvers: { type: [Schema.Types.Mixed], required: true },
  },
  { autoIndex: false, versionKey: false },
);
webhookOutboxSchema.index({ by: 1, receivedAt: 1 });

export const WebhookOutboxModel = model('WebhookOutbox', webhookOutboxSchema, 'webhook_outbox');

/**
 * One per API process that wrote to the outbox: `heartbeatAt` tells the others it still forwards
 * its own. Its index also makes the collection exist from startup: FerretDB creating one on the
 * first write of a burst holds up every other write meanwhile.
 */
const webhookForwarderSchema = new Schema(
  {
    _id: { type: String, required: true },
    heartbeatAt: { type: Date, required: true, index: true },
  },
  { autoIndex: false, versionKey: false },
);

export const WebhookForwarderModel = model('WebhookForwarder', webhookForwarderSchema, 'webhook_forwarders');
