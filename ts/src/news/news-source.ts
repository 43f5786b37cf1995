/**
 * What the news service wires to the bus: a source that, once started, hands
 * batches of new `News` to `emit` (oldest first) until stopped. `emit` resolves
 * when the batch is safely handed over (published); only then does a source
 * remember the items as sent.
 */
import type { News } from '../contracts/messages.ts';

export type EmitNews = (items: News[]) => Promise<void>;

export interface NewsSource {
  readonly name: string;
  start(emit: EmitNews): void;
  /** Stops polling/replaying; resolves when the in-flight work is done. */
  stop(): Promise<void>;
}

/** The default feeds of the issue. */
export const DEFAULT_FEEDS: readonly FeedSpec[] = [
  { name: 'coindesk', url: 'https://www.coindesk.com/arc/outboundfeeds/rss/' },
  { name: 'cointelegraph', url: 'https://cointelegraph.com/rss' },
  { name: 'decrypt', url: 'https://decrypt.co/feed' },
];

export interface FeedSpec {
  /** Short name: the `News.source`, the metric label and the cursor key. */
  name: string;
  url: string;
  /** 'feed' (RSS/Atom/RDF/JSON Feed, default) or 'cryptopanic' (API JSON). */
  format?: 'feed' | 'cryptopanic';
}
