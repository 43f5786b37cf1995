/**
 * The book service: order-book features per minute -> the feature store (`features.book`,
 * upserted by natural key) and the `featuresBook` stream. Stored before published, like the
 * technical features.
 *
 * Sources (TICKCAST_BOOK_SOURCE):
 * - `replay` (embedded default): a `tickcast record` file (default: the bundled Binance
 *   BTC/USDT recording, data/sample/book) replayed once through the same pure book state
 *   machines as the live sources (replayBookRecording), so the rows equal what the live run
 *   computed. The pairs are TICKCAST_BOOK_PAIRS, or else the ones the recording names. A replay
 *   again (a restart) rewrites the same rows: nothing is duplicated.
 * - `kraken` / `binance`: the live Kraken WS v2 book (checksummed) or Binance diff depth
 *   (sequence-checked) of TICKCAST_BOOK_PAIRS (default TICKCAST_PAIRS); they reconnect by
 *   themselves.
 * - `off` (production default): the service idles.
 *
 * A write the store fails (unavailable) is retried until it succeeds or the process stops; a
 * row the store rejects as invalid goes to dlq.features.book with the reason.
 */
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BookFeatures } from '../contracts/messages.ts';
import { Topics } from '../contracts/messages.ts';
import type { Service, ServiceContext } from '../services/runner.ts';
import type { BookSink } from '../sources/book-output.ts';
import { normalizeBinanceSymbol } from '../sources/pairs.ts';

export type BookSourceKind = 'off' | 'replay' | 'kraken' | 'binance';

/** The bundled recording (MIT; see data/sample/book/README.md). */
export const BUNDLED_BOOK_RECORDING = resolve(dirname(fileURLToPath(import.meta.url)), '../../../data/sample/book/binance_BTCUSDT_depth_20240808T2354-2400.jsonl.gz');

export interface BookServiceOptions {
  source: BookSourceKind;
  /** Replay: the recording (default the bundled one). */
  replayFile?: string;
  /** Pairs of the books (live default: `followed`; replay default: the recorded ones). */
  pairs?: readonly string[];
  followed?: readonly string[];
  depth?: number;
  krakenWsUrl?: string;
  /** Between two failed store writes of the same batch. Default 1 s. */
  retryMs?: number;
  /** Replay: called once the recording's rows are stored and published (rows computed, rows stored). */
  onReplayed?: (rows: number, stored: number) => void;
}

/** The pairs a recording has books of, by exchange (Binance: snapshot sources and depth streams; Kraken: `book` frames' symbols). */
export async function recordedPairs(path: string): Promise<{ kraken: string[]; binance: string[] }> {
  const { readBookRecording } = await import('../sources/book-recording.ts');
  const kraken = new Set<string>();
  const binance = new Set<string>();
  for await (const f of readBookRecording(path)) {
    if (f.source.startsWith('binance-depth-snapshot:')) binance.add(f.source.slice('binance-depth-snapshot:'.length));
    else if (f.source.startsWith('binance-depth') || f.source.startsWith('kraken-book')) {
      let msg: { stream?: unknown; channel?: unknown; data?: unknown };
      try {
        msg = JSON.parse(f.text) as typeof msg;
      } catch {
        continue; // the replay refuses it with its reason
      }
      if (typeof msg.stream === 'string') {
        const p = normalizeBinanceSymbol(msg.stream.split('@')[0] ?? '');
        if (p) binance.add(p);
      } else if (msg.channel === 'book' && Array.isArray(msg.data)) {
        for (const d of msg.data as { symbol?: unknown }[]) if (typeof d?.symbol === 'string') kraken.add(d.symbol);
      }
    }
  }
  return { kraken: [...kraken].sort(), binance: [...binance].sort() };
}

export function bookService(opts: BookServiceOptions): Service {
  let stopLive: (() => Promise<void>) | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;

  /** Store (retrying while the store is down), dead-letter the rejected rows, publish the stored ones. */
  const deliver = async (ctx: ServiceContext, batch: BookFeatures[]): Promise<number> => {
    if (batch.length === 0) return 0;
    const stores = await ctx.stores();
    for (;;) {
      try {
        const w = await stores.features.book.write(batch);
        const rejected = new Set(w.rejected.map((r) => r.index));
        if (w.rejected.length > 0) {
          await ctx.bus.deadLetter(
            Topics.featuresBook.name,
            w.rejected.map((r) => ({ key: batch[r.index]!.pair, payload: JSON.stringify(batch[r.index]), reason: `handler: feature store rejected the book row: ${r.error.message}`, source: 'book' })),
          );
          ctx.logger.warn({ count: w.rejected.length, first: w.rejected[0]?.error.message }, 'book rows reported to dlq.features.book');
        }
        const stored = batch.filter((_, i) => !rejected.has(i));
        if (stored.length > 0) await ctx.bus.publish('featuresBook', stored);
        for (const r of stored) {
          ctx.logger.info({ exchange: r.exchange, pair: r.pair, window_end: new Date(r.window_end_ms).toISOString(), spread_twa: r.features.spread_twa ?? null, imbalance_dw_close: r.features.imbalance_dw_close ?? null, messages: r.features.messages ?? null }, 'book features stored');
        }
        return stored.length;
      } catch (e) {
        if (stopped || ctx.signal.aborted) throw e;
        ctx.logger.warn({ err: (e as Error).message, rows: batch.length }, 'book rows not stored yet; retrying');
        await new Promise((r) => setTimeout(r, opts.retryMs ?? 1000));
      }
    }
  };

  return {
    name: 'book',
    async start(ctx) {
      stopped = false;
      if (opts.source === 'off') {
        ctx.logger.info('order-book features off (TICKCAST_BOOK_SOURCE=off)');
        return;
      }
      if (opts.source === 'replay') {
        const file = opts.replayFile ?? BUNDLED_BOOK_RECORDING;
        running = (async () => {
          // Loaded here: the book binding (@tickcast/book) is needed only when the service runs.
          const { readBookRecording, replayBookRecording } = await import('../sources/book-recording.ts');
          const found = await recordedPairs(file);
          const binancePairs = opts.pairs?.length ? found.binance.filter((p) => opts.pairs!.includes(p)) : found.binance;
          const krakenPairs = opts.pairs?.length ? found.kraken.filter((p) => opts.pairs!.includes(p)) : found.kraken;
          ctx.logger.info({ file, binance: binancePairs, kraken: krakenPairs }, 'replaying an order-book recording');
          const rows = await replayBookRecording(readBookRecording(file), { binancePairs, krakenPairs, krakenDepth: opts.depth ?? 10 });
          let stored = 0;
          for (let i = 0; i < rows.length && !stopped; i += 500) stored += await deliver(ctx, rows.slice(i, i + 500));
          opts.onReplayed?.(rows.length, stored);
          ctx.logger.info({ file, rows: rows.length, stored, from: rows[0] ? new Date(rows[0].window_end_ms).toISOString() : null, to: rows.at(-1) ? new Date(rows.at(-1)!.window_end_ms).toISOString() : null }, 'order-book recording replayed: features.book rows stored');
        })().catch((e: unknown) => {
          if (stopped) return;
          ctx.logger.error({ err: (e as Error).message, file }, 'order-book replay failed');
          ctx.fail?.(e);
        });
        return;
      }
      const pairs = [...(opts.pairs?.length ? opts.pairs : (opts.followed ?? []))];
      const sink: BookSink = {
        bookFeatures: async (batch) => {
          await deliver(ctx, batch);
        },
        reject: (_raw, reason) => ctx.logger.warn({ reason }, 'book input refused'),
      };
      if (opts.source === 'kraken') {
        const { KrakenBookSource } = await import('../sources/kraken-book.ts');
        const src = new KrakenBookSource({ pairs, depth: opts.depth ?? 10, logger: ctx.logger, ...(opts.krakenWsUrl ? { url: opts.krakenWsUrl } : {}) });
        running = src.run(sink);
        stopLive = () => src.stop();
      } else {
        const { BinanceDepthSource } = await import('../sources/binance-depth.ts');
        const src = new BinanceDepthSource({ pairs, logger: ctx.logger });
        running = src.run(sink);
        stopLive = () => src.stop();
      }
      ctx.logger.info({ source: opts.source, pairs }, 'following live order books');
    },
    async stop() {
      stopped = true;
      await stopLive?.();
      await running?.catch(() => undefined);
      stopLive = null;
      running = null;
    },
  };
}
