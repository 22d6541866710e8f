import type { Connection, Model } from 'mongoose';
import { CompanyModel } from './company';
import { CustomerModel } from './customer';
import { SiteModel } from './site';
import { UserModel } from './user';
import { LinkTombstoneModel } from './link-tombstone';
import { SyncHistoryModel } from './sync-history';
import { InboxModel } from './inbox';
import { TicketModel } from './ticket';
import { TicketMessageModel } from './ticket-message';
import { OAuthConnectionModel, OAuthConsentModel, OAuthRefreshClaimModel } from './oauth-connection';
import { WebhookDeliveryModel } from './webhook-delivery';
import { WebhookForwarderModel, WebhookOutboxModel } from './webhook-outbox';
import { TicketTaskModel } from './ticket-task';
import { TicketNoteModel } from './ticket-note';
import { OutgoingMailModel } from './outgoing-mail';

export const allModels: Model<any>[] = [SiteModel, UserModel, CompanyModel, CustomerModel, LinkTombstoneModel, SyncHistoryModel, InboxModel, TicketModel, TicketMessageModel, OAuthConnectionModel, OAuthConsentModel, OAuthRefreshClaimModel, WebhookDeliveryModel, WebhookOutboxModel, WebhookForwarderModel, TicketTaskModel, TicketNoteModel, OutgoingMailModel];

/**
 * Creates every declared index before the process serves anything: the unique indexes are the
 * idempotency mechanism, so running without them would silently allow duplicates.
 */
export async function ensureIndexes(_connection?: Connection): Promise<void> {
  for (const model of allModels) await model.createIndexes();
}

export * from './company';
export * from './customer';
export * from './keys';
export * from './link-tombstone';
export * from './sync-history';
export * from './site';
export * from './sync-state';
export * from './user';
export * from './inbox';
export * from './ticket';
export * from './ticket-message';
export * from './oauth-connection';
export * from './webhook-delivery';
export * from './webhook-outbox';
export * from './ticket-task';
export * from './ticket-note';
export * from './outgoing-mail';
