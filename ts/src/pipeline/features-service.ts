/**
 * The features service: `candles` -> Rust feature set -> `features.technical`
 * and the feature store (candles and feature rows, upserted by natural key,
 * so a replay or a restart never duplicates).
 *
 * Batches: the bus hands the service the candles it has ready; each closed
 * candle gives one feature row (one N-API call per candle), then the batch's
 * candles are stored in one write and its rows in one write (SQLite: one
 * transaction each, one prepared statement), and the rows are published.
 * Stored before published, so whoever reads `features.technical` finds the
 * row in the store. Rows computed but not stored yet wait in an outbox, so a
 * failed write is retried without losing a row; a document the store rejects
 * as invalid is dead-lettered (its candle, to dlq.candles, with the reason).
 *
 * On the first candle of a pair it warms the pair's feature set with the
 * pair's stored candles before that candle, so features after a restart equal
 * those of an uninterrupted run (the histories of a batch's new pairs are
 * read at once: one msearch per 100 pairs on Elasticsearch).
 *
 * Rebalances (Kafka, issue 19): the feature store is this service's
 * changelog. Its state per pair (the indicators) is a function of the pair's
 * stored candles, which an instance writes before it commits their offsets,
 * so at each group join it forgets every pair (a partition it kept may have
 * been another member's while this one was out of the group) and re-warms
 * each from the store at its next candle. The assigned partitions stay
 * paused until STORE_VISIBLE_MS after the join: Elasticsearch makes a write
 * visible to searches at its next refresh (1 s by default), so the previous
 * owner's last writes are readable before the warm-up reads them.
 */
import type { Candle, TechnicalFeatures } from '../contracts/messages.ts';
import { Topics } from '../contracts/messages.ts';
import type { Service, ServiceContext } from '../services/runner.ts';
import type { MessageMeta, Subscription } from '../bus/index.ts';
import { FeatureStage, DEFAULT_FEATURES } from './feature-stage.ts';
import { duplicateCandles, featureRows, lastFeatureEnd } from './metrics.ts';
import { waitStoreVisible } from './store-visible.ts';

export interface FeaturesServiceOptions {
  intervalS?: number;
  features?: readonly string[];
  group?: string;
  /** Most candles per batch (default 1000). */
  maxBatch?: number;
}

export function featuresService(opts: FeaturesServiceOptions = {}): Service {
  let stage = new FeatureStage(opts.intervalS ?? 60, opts.features ?? DEFAULT_FEATURES);
  let sub: Subscription | null = null;
  let ctxRef: ServiceContext | null = null;
  // The outbox: candles to store, and rows (with their candle) to store then publish.
  let outCandles: Candle[] = [];
  let outRows: { row: TechnicalFeatures; candle: Candle }[] = [];
  /** The batch last computed: a retry of it only stores and publishes what is left. */
  let lastBatch = '';

  const deadLetter = async (ctx: ServiceContext, entries: { candle: Candle; reason: string }[]): Promise<void> => {
    if (entries.length === 0) return;
    await ctx.bus.deadLetter(
      Topics.candles.name,
      entries.map((e) => ({ key: e.candle.pair, payload: JSON.stringify(e.candle), reason: e.reason, source: 'features' })),
    );
    ctx.logger.warn({ count: entries.length, first: entries[0]?.reason }, 'candles reported to dlq.candles');
  };

  async function flush(ctx: ServiceContext): Promise<void> {
    const stores = await ctx.stores();
    if (outCandles.length > 0) {
      const candles = outCandles;
      const res = await stores.features.candles.write(candles); // throws (store down): kept, retried
      const bad = new Set(res.rejected.map((r) => candles[r.index] as Candle));
      await deadLetter(
        ctx,
        res.rejected.map((r) => ({ candle: candles[r.index] as Candle, reason: `handler: feature store rejected the candle: ${r.error.message}` })),
      );
      outCandles = [];
      if (bad.size > 0) outRows = outRows.filter((r) => !bad.has(r.candle)); // not stored: no row either
    }
    if (outRows.length === 0) return;
    const rows = outRows;
    const w = await stores.features.technical.write(rows.map((r) => r.row));
    const rejected = new Set(w.rejected.map((r) => r.index));
    await deadLetter(
      ctx,
      w.rejected.map((r) => ({ candle: (rows[r.index] as (typeof rows)[number]).candle, reason: `handler: feature store rejected its feature row: ${r.error.message}` })),
    );
    const stored = rows.filter((_, i) => !rejected.has(i)).map((r) => r.row);
    await ctx.bus.publish('featuresTechnical', stored);
    outRows = [];
    for (const row of stored) {
      featureRows().inc({ pair: row.pair });
      lastFeatureEnd().set({ pair: row.pair }, row.window_end_ms / 1000);
      const ready = Object.values(row.features).filter((v) => v !== null).length;
      ctx.logger.info(
        { pair: row.pair, window_end: new Date(row.window_end_ms).toISOString(), ready: `${ready}/${stage.names.length}`, rsi_14: row.features['rsi_14'] ?? null },
        'features stored',
      );
    }
  }

  async function onBatch(candles: Candle[], metas: MessageMeta<'candles'>[]): Promise<void> {
    const ctx = ctxRef as ServiceContext;
    const first = metas[0] as MessageMeta<'candles'>;
    const last = metas[metas.length - 1] as MessageMeta<'candles'>;
    const id = `${first.topicName}/${first.partition}/${first.offset}-${last.offset}/${candles.length}`;
    if (id !== lastBatch) {
      const stores = await ctx.stores();
      // The stored history of every pair this batch meets first, read at once (after a start or a rebalance
      // that is every pair: one read after another made the first minute's rows seconds late with 200 pairs,
      // 16 at a time still 0.6 s). The batch writes nothing before its loop, so these are the reads the loop
      // would make.
      const firstOf = new Map<string, Candle>();
      for (const c of candles) if (!stage.knows(c.pair) && !firstOf.has(c.pair)) firstOf.set(c.pair, c);
      const histories = new Map<string, Candle[]>();
      if (firstOf.size > 0) {
        const t0 = performance.now();
        const todo = [...firstOf.values()];
        const got = await stores.features.candles.rangeMany(todo.map((c) => ({ sel: { pair: c.pair, interval_s: c.interval_s }, q: { to_ms: c.window_end_ms - 1, order: 'asc' as const } })));
        todo.forEach((c, i) => histories.set(c.pair, got[i] ?? []));
        ctx.logger.info({ pairs: todo.length, candles: got.reduce((n, h) => n + h.length, 0), ms: Math.round(performance.now() - t0) }, 'stored candles of the pairs first met read back (warm-up)');
      }
      for (const c of candles) {
        if (!stage.knows(c.pair)) {
          const history = histories.get(c.pair) ?? [];
          const fed = stage.warm(c.pair, history);
          if (fed > 0) ctx.logger.info({ pair: c.pair, candles: fed }, 'feature set warmed from stored candles');
        }
        outCandles.push(c);
        const out = stage.onCandle(c);
        if (out.kind === 'duplicate') duplicateCandles().inc({ pair: c.pair });
        else if (out.kind === 'row') outRows.push({ row: out.row, candle: c });
      }
      lastBatch = id;
    }
    // Group commit: wait one turn of the event loop before storing, so the candles that arrive meanwhile
    // (a replay, a burst, every pair's minute closing at once) come in the next batch instead of each
    // batch paying its own fsync'd transactions; a live row waits well under a millisecond more.
    await new Promise<void>((r) => setImmediate(r));
    await flush(ctx);
  }

  return {
    name: 'features',
    async start(ctx) {
      ctxRef = ctx;
      // Open the stores now (connection, index checks) rather than at the first candle, whose row would wait
      // for it; a failure here is met again, and reported, by the first batch that needs them.
      ctx.stores().catch(() => undefined);
      const onAssign = async (assigned: Map<string, number[]>): Promise<void> => {
        const joinedAt = Date.now();
        // Rows computed but not stored stay in the outbox (they are correct: computed from the state then).
        stage = new FeatureStage(opts.intervalS ?? 60, opts.features ?? DEFAULT_FEATURES);
        lastBatch = '';
        ctx.logger.info({ assigned: assigned.get(Topics.candles.name) ?? [] }, 'features partitions assigned: pairs re-warm from the feature store at their next candle');
        await waitStoreVisible(joinedAt);
      };
      sub = await ctx.bus.consumeBatch({
        group: opts.group ?? 'features',
        topics: ['candles'],
        fromBeginning: true,
        maxBatch: opts.maxBatch ?? 1000,
        handler: onBatch,
        ...(ctx.bus.kind === 'kafka' ? { onAssign } : {}),
      });
      ctx.logger.info({ features: stage.names.length }, 'features service consuming candles');
    },
    async stop() {
      await sub?.stop();
      sub = null;
    },
  };
}
