import { Schema, model } from 'mongoose';
import { BatchedInsert } from './batched-insert';

/**
 * Webhook deliveries already acted on, by `${provider}:${deliveryId}`. Inserting first makes a
 * redelivered or replayed notification a no-op. The key is the `_id`: inserting it is the only
 * thing done on every delivery, and forgetting one goes by `_id`, the one filter FerretDB does
 * not decode every document for. `key` repeats it for the unique index older databases have
 * (a document without it would collide with every other on `null`) and for operators' queries.
 * `receivedAt` is indexed for pruning, since FerretDB has no TTL indexes.
 */
const webhookDeliverySchema = new Schema(
  {
    _id: { type: String, required: true },
    key: { type: String, required: true, unique: true },
    receivedAt: { type: Date, required: true, index: true },
  },
  { autoIndex: false, versionKey: false },
);

export const WebhookDeliveryModel = model('WebhookDelivery', webhookDeliverySchema);

export const webhookDeliveryKey = (provider: string, deliveryId: string): string => `${provider}:${deliveryId}`;

const deliveries = new BatchedInsert(() => WebhookDeliveryModel.collection);

/** Records a delivery; false when the same key was recorded before (a duplicate). */
export async function recordWebhookDelivery(key: string, receivedAt = new Date()): Promise<boolean> {
  return (await deliveries.insert({ _id: key, key, receivedAt })) === 'inserted';
}

/** Forgets a delivery whose processing failed, so the provider's retry is acted on. */
export async function forgetWebhookDelivery(key: string): Promise<void> {
  await WebhookDeliveryModel.deleteOne({ _id: key });
}
