import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed keys for the attributes infra/search-attributes.ts registers (SPEC O1). */
export const siteIdAttribute = defineSearchAttributeKey('DeskbridgeSiteId', SearchAttributeType.KEYWORD);
export const entityAttribute = defineSearchAttributeKey('DeskbridgeEntity', SearchAttributeType.KEYWORD);
export const inboxIdAttribute = defineSearchAttributeKey('DeskbridgeInboxId', SearchAttributeType.KEYWORD);
export const syncPausedAttribute = defineSearchAttributeKey('DeskbridgeSyncPaused', SearchAttributeType.BOOL);

/** The note a paused site's reconcile Schedule carries in the Temporal UI (C16). */
export const syncPausedNote = 'contact sync paused by the site owner';
