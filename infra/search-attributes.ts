/**
 * Custom search attributes registered on every Temporal namespace deskbridge uses, so ops can
 * filter workflows by site, entity and inbox in the Temporal UI (SPEC O1). Kept free of SDK
 * imports: the dev server takes them as CLI flags, a remote cluster through the operator API.
 */
export const searchAttributeTypes = {
  DeskbridgeSiteId: 'Keyword',
  DeskbridgeEntity: 'Keyword',
  DeskbridgeInboxId: 'Keyword',
  DeskbridgeSyncPaused: 'Bool',
} as const;

export type SearchAttributeName = keyof typeof searchAttributeTypes;
