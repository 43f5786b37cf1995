/**
 * The "replay" news source: the bundled CryptoPanic headline sample
 * (data/sample/news/cryptopanic_sample.csv), for the embedded mode when the
 * network is off. Items go out in time order, either all at once (`speed:
 * 'max'`) or paced by their own timestamps divided by `speed`. `startAtMs`
 * shifts every time so the first item is at that instant (e.g. the start of a
 * replayed market session); relative spacing is kept.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { News } from '../contracts/messages.ts';
import { parseCsvRecords } from './csv.ts';
import type { NewsCursor } from './news-cursor.ts';
import { identityKey, newsIdOf } from './news-id.ts';
import type { EmitNews, NewsSource } from './news-source.ts';

export const BUNDLED_NEWS_SAMPLE = fileURLToPath(
  new URL('../../../data/sample/news/cryptopanic_sample.csv', import.meta.url),
);

/** News items of a sample CSV (columns published_utc, title, source, cryptopanic_path), in time order. */
export function loadNewsSample(file: string = BUNDLED_NEWS_SAMPLE): News[] {
  const out: News[] = [];
  for (const r of parseCsvRecords(readFileSync(file, 'utf8'))) {
    const title = (r.title ?? '').trim();
    const ms = Date.parse(r.published_utc ?? '');
    if (!title || !Number.isFinite(ms)) continue;
    const path = (r.cryptopanic_path ?? '').trim();
    const url = path ? `https://cryptopanic.com${path.startsWith('/') ? '' : '/'}${path}` : '';
    const key = identityKey(undefined, url) ?? `title:${title}`;
    out.push({
      id: newsIdOf(key),
      source: `cryptopanic:${(r.source ?? '').trim() || 'unknown'}`.slice(0, 128),
      title: title.slice(0, 2000),
      url,
      published_ms: ms,
      summary: '',
    });
  }
  return out.sort((a, b) => a.published_ms - b.published_ms);
}

export interface ReplayNewsSourceOptions {
  file?: string;
  /** 'max' (default): everything in one batch; a number: real-time speed multiplier. */
  speed?: 'max' | number;
  startAtMs?: number;
  /** Items already sent (skipped) and committed after each emit. */
  cursor?: NewsCursor;
  saveCursor?: (c: NewsCursor) => void;
  sleep?: (ms: number) => Promise<void>;
  logger: Logger;
}

export class ReplayNewsSource implements NewsSource {
  readonly name = 'replay';
  private stopped = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly o: ReplayNewsSourceOptions) {}

  /** The items this source will send, with `startAtMs` applied. */
  items(): News[] {
    const items = loadNewsSample(this.o.file);
    const first = items[0];
    if (this.o.startAtMs === undefined || !first) return items;
    const shift = this.o.startAtMs - first.published_ms;
    return items.map((n) => ({ ...n, published_ms: n.published_ms + shift }));
  }

  start(emit: EmitNews): void {
    if (this.running) return;
    this.stopped = false;
    this.running = this.run(emit).catch((e) => this.o.logger.error({ err: e }, 'news replay failed'));
  }

  /** Resolves when the replay has sent everything (or was stopped). */
  async done(): Promise<void> {
    await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
    this.running = undefined;
  }

  private sleep(ms: number): Promise<void> {
    if (this.o.sleep) return this.o.sleep(ms);
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async run(emit: EmitNews): Promise<void> {
    const all = this.items().filter((n) => !this.o.cursor?.has(n.id));
    this.o.logger.info({ items: all.length, file: this.o.file ?? BUNDLED_NEWS_SAMPLE }, 'replaying bundled news sample');
    const commit = (batch: News[]) => {
      if (!this.o.cursor) return;
      this.o.cursor.markSeen(batch.map((n) => n.id));
      this.o.saveCursor?.(this.o.cursor);
    };
    const speed = this.o.speed ?? 'max';
    if (speed === 'max') {
      if (all.length) {
        await emit(all);
        commit(all);
      }
      return;
    }
    if (!(speed > 0)) throw new RangeError('speed must be > 0 or "max"');
    let prev: number | undefined;
    for (const n of all) {
      if (this.stopped) return;
      if (prev !== undefined && n.published_ms > prev) await this.sleep((n.published_ms - prev) / speed);
      if (this.stopped) return;
      prev = n.published_ms;
      await emit([n]);
      commit([n]);
    }
  }
}
