import { Schema, model } from 'mongoose';

/**
 * Webhook deliveries already acted on, by `${provider}:${deliveryId}`. Inserting first makes a
 * redelivered or replayed notification a no-op (unique index). `receivedAt` is indexed for
 * pruning, since FerretDB has no TTL indexes.
 */
const webhookDeliverySchema = new Schema(
  {
    key: { type: String, required: true, unique: true },
    receivedAt: { type: Date, required: true, index: true },
  },
  { autoIndex: false, versionKey: false },
);

export const WebhookDeliveryModel = model('WebhookDelivery', webhookDeliverySchema);

export const webhookDeliveryKey = (provider: string, deliveryId: string): string => `${provider}:${deliveryId}`;

/** Records a delivery; false when the same key was recorded before (a duplicate). */
export async function recordWebhookDelivery(key: string, receivedAt = new Date()): Promise<boolean> {
  try {
    await WebhookDeliveryModel.create({ key, receivedAt });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 11000) return false;
    throw err;
  }
}

/** Forgets a delivery whose processing failed, so the provider's retry is acted on. */
export async function forgetWebhookDelivery(key: string): Promise<void> {
  await WebhookDeliveryModel.deleteOne({ key });
}
