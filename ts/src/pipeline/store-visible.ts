/**
 * After a group join, how long a service whose store is its changelog waits
 * before it reads that store: Elasticsearch makes a write visible to searches
 * at its next refresh (1 s by default), so with this margin the previous
 * owner's last acknowledged writes are readable (features, predictor, monitor).
 */
export const STORE_VISIBLE_MS = 1500;

/** Resolves STORE_VISIBLE_MS after `since` (a Date.now() taken at the group join); at once if that is past. */
export async function waitStoreVisible(since: number): Promise<void> {
  const wait = STORE_VISIBLE_MS - (Date.now() - since);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
