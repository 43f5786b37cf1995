/**
 * After a group join, how long a service whose store is its changelog waits
 * before it reads that store: Elasticsearch makes a write visible to searches
 * at its next refresh (1 s by default), so with this margin the previous
 * owner's last acknowledged writes are readable (features, predictor, monitor).
 */
export const STORE_VISIBLE_MS = 1500;
