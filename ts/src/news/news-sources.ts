/**
 * Choose the news source for a run: the RSS/Atom feeds (plus CryptoPanic when
 * a token is configured) polled over the network, or the bundled replay
 * sample when the network is off. The cursor lives in `<dataDir>/news-cursor.json`.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { cryptoPanicUrl } from './cryptopanic.ts';
import { httpFeedFetcher, type FeedFetcher } from './feed-fetcher.ts';
import { FeedPoller } from './feed-poller.ts';
import { loadNewsCursor, saveNewsCursor } from './news-cursor.ts';
import { DEFAULT_FEEDS, type FeedSpec, type NewsSource } from './news-source.ts';
import { ReplayNewsSource } from './replay-source.ts';

export interface NewsSourceConfig {
  dataDir: string;
  /** false: replay the bundled sample (embedded mode without network). */
  network: boolean;
  feeds?: readonly FeedSpec[];
  /** CryptoPanic developer API token (env TICKCAST_CRYPTOPANIC_TOKEN); the API is polled only when set. */
  cryptopanicToken?: string;
  cryptopanicCurrencies?: string[];
  intervalMs?: number;
  timeoutMs?: number;
  /** Replay options when network is false. */
  replay?: { speed?: 'max' | number; startAtMs?: number; file?: string };
  fetcher?: FeedFetcher;
  logger: Logger;
}

export const NEWS_CURSOR_FILE = 'news-cursor.json';

export function newsSourceFromConfig(c: NewsSourceConfig): NewsSource {
  const file = join(c.dataDir, NEWS_CURSOR_FILE);
  const cursor = loadNewsCursor(file);
  const saveCursor = (x: typeof cursor) => saveNewsCursor(file, x);
  if (!c.network) {
    c.logger.info('news: network off, replaying the bundled CryptoPanic sample');
    return new ReplayNewsSource({ ...(c.replay ?? {}), cursor, saveCursor, logger: c.logger });
  }
  const feeds: FeedSpec[] = [...(c.feeds ?? DEFAULT_FEEDS)];
  if (c.cryptopanicToken) {
    feeds.push({
      name: 'cryptopanic',
      url: cryptoPanicUrl({ token: c.cryptopanicToken, ...(c.cryptopanicCurrencies ? { currencies: c.cryptopanicCurrencies } : {}) }),
      format: 'cryptopanic',
    });
  }
  c.logger.info({ feeds: feeds.map((f) => f.name) }, 'news: polling feeds');
  return new FeedPoller({
    feeds,
    fetcher: c.fetcher ?? httpFeedFetcher(),
    cursor,
    saveCursor,
    logger: c.logger,
    ...(c.intervalMs !== undefined ? { intervalMs: c.intervalMs } : {}),
    ...(c.timeoutMs !== undefined ? { timeoutMs: c.timeoutMs } : {}),
  });
}
