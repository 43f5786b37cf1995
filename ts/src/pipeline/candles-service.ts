/**
 * The candles service: `trades` -> Rust aggregator -> `candles`.
 * Late trades (their window already closed) go to dlq.trades with the reason
 * and are counted: reported, never merged, never silently dropped. A trade
 * whose id that closed window already counted is a redelivery (the bus
 * delivers at least once), counted as a duplicate, not reported.
 *
 * Batches: the bus hands the service what it has ready (up to `maxBatch`
 * trades, in order per pair) and the whole batch goes into the aggregator in
 * one columnar N-API call (CandleStage.pushMany: the same candles as one call
 * per trade). The batch's offsets are committed after its candles are
 * published. What the aggregator emitted waits in an outbox until published,
 * so a failed publish is retried without losing a candle.
 *
 * Checkpoint (with `checkpointPath`): the aggregators' state (the open
 * windows) is written to a file once the candles it closed are published,
 * and restored at start, so a restarted service resumes its open windows
 * instead of losing them. With `checkpointEveryMs` 0 (the default on Kafka) it
 * is written at every batch before the batch's offsets are committed, so the
 * restored state always covers what the group committed: the bus redelivers
 * only trades the state has seen (ignored as duplicates, or reported late),
 * and none is lost. The in-process bus does not outlive the process, so there
 * the default is at most once per second, and always at stop.
 *
 * State on Kafka (changelog, issue 19): the open windows and remembered
 * trade ids move with their partition. One stage per input partition; after
 * each batch the changed pairs' states go to the compacted
 * `candles-state-changelog`, to the partition of the input they came from:
 * key `exchange|pair`, the pair's state without the remembered ids of closed
 * windows (open windows, watermark: small), with the input offset the state
 * reflects (header `input_offset`); and, only when a window with trades
 * closed, key `exchange|pair|ids`, the remembered ids (up to 65536 per pair:
 * written once a minute at most, not with every batch). Then the batch's
 * offsets commit.
 * At each rebalance the partitions this instance got are paused until their
 * state is read back from the changelog (Changelog, ts/src/state), those it
 * lost are dropped. A redelivered trade at or before a pair's `input_offset`
 * is already in the state and skipped (at least once, counted once). The
 * checkpoint file is not used on Kafka.
 *
 * Time comes from the stream, never from this service's clock. A window
 * closes when the watermark (latest event time - grace) passes its end, and
 * event time moves with the trades and with the sources' heartbeats on the
 * same `trades` stream (TradeHeartbeat: the source's event clock for a pair,
 * sent while it is live, also when the market is quiet). So a quiet market
 * still gets its minute closed and flat filled candles on time, while a
 * stalled pipe (broker down, this consumer lagging) closes nothing: the
 * trades that were on their way when it stalled arrive before the heartbeats
 * that follow them. A `final` heartbeat (a finite source ended) closes the
 * windows ending by its time, as a backfill does at the end of its data.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Candle, Trade, TradeEvent } from '../contracts/messages.ts';
import { Topics, isHeartbeat, isTradeBatch } from '../contracts/messages.ts';
import type { Service, ServiceContext } from '../services/runner.ts';
import { changelogTopic, type MessageMeta, type RawDelivery, type RawRecord, type Subscription } from '../bus/index.ts';
import { Changelog } from '../state/changelog.ts';
import { CandleStage, type StageOutput } from './candle-stage.ts';
import { candlesClosed, duplicateTrades, lastCandleEnd, lateTrades } from './metrics.ts';

export interface CandlesServiceOptions {
  intervalS?: number;
  graceMs?: number;
  /** Consumer group. Default `candles`. */
  group?: string;
  /** Most trades per batch (default 5000). */
  maxBatch?: number;
  /** Checkpoint file of the aggregators' state; restored at start when it exists. Default: none. */
  checkpointPath?: string;
  /** Least time between checkpoints (ms); 0 = at every batch. Default 0 on Kafka, 1000 on the in-process bus. */
  checkpointEveryMs?: number;
}

const CHECKPOINT_FORMAT = 'tickcast-candles-checkpoint/1';
/** Header `format` of a changelog record (its value: the aggregator's per-pair snapshot). */
export const CHANGELOG_FORMAT = 'tickcast-candles-state/1';

/** One input partition's state (Kafka): its stage, per `exchange|pair` the last input offset in it, the pairs changed since the last changelog write. */
interface PartitionState {
  stage: CandleStage;
  offsets: Map<string, number>;
  dirty: Set<string>;
  /** Per pair, the starts of the windows with trades closed since the last write (their ids became remembered). */
  closed: Map<string, number[]>;
}

const stateKey = (exchange: string, pair: string): string => `${exchange}|${pair}`;

/** Window slots per pair in the changelog: the remembered ids of the last WINDOW_SLOTS windows at most (a day of minutes). */
export const WINDOW_SLOTS = 1440;

/** The top-level arrays of the aggregator's remembered-ids JSON (`[[1,2],[3]]`), as text (64-bit ids never become JS numbers). */
function splitWindows(json: string): string[] {
  const inner = json.trim().slice(1, -1).trim();
  if (inner === '') return [];
  return inner
    .slice(1, -1)
    .split('],[')
    .map((w) => `[${w}]`);
}

/**
 * The changelog records of one pair after a batch: the remembered ids of each
 * window with trades that closed in it (`exchange|pair|w|<slot>`, written
 * once; a slot is reused a day later), then the pair's live state
 * (`exchange|pair`: open windows, watermark; small). Written in this order,
 * so a live state never refers to windows the changelog lacks.
 */
export function pairChangelogRecords(stage: CandleStage, exchange: string, pair: string, closedStarts: readonly number[], partition: number, extra: Record<string, string>): RawRecord[] {
  const snap = stage.snapshotPairParts(exchange, pair);
  if (snap === null) return []; // only heartbeats of a pair with no trade yet: no state
  const headers = { format: CHANGELOG_FORMAT, exchange, pair, ...extra };
  const out: RawRecord[] = [];
  if (closedStarts.length > 0) {
    const windows = splitWindows(snap[1]);
    const n = Math.min(closedStarts.length, windows.length);
    const intervalMs = stage.intervalS * 1000;
    for (let i = 0; i < n; i++) {
      const start = closedStarts[closedStarts.length - n + i] as number;
      const slot = Math.floor(start / intervalMs) % WINDOW_SLOTS;
      out.push({ key: `${stateKey(exchange, pair)}|w|${slot}`, value: windows[windows.length - n + i] as string, partition, headers: { ...headers, part: 'window', window_start: String(start) } });
    }
  }
  out.push({ key: stateKey(exchange, pair), value: snap[0], partition, headers: { ...headers, part: 'live' } });
  return out;
}

/**
 * Restore the pairs of a changelog partition (the latest record per key) into
 * a stage: each live state with the remembered ids of its windows (those not
 * newer than the live state, within WINDOW_SLOTS windows of the newest;
 * oldest first, the aggregator keeps its cap). Returns the live records' headers.
 */
export function restorePairs(stage: CandleStage, latest: ReadonlyMap<string, RawDelivery>, where: string): (Record<string, string> & { exchange: string; pair: string })[] {
  const windows = new Map<string, { start: number; offset: number; ids: string }[]>();
  const lives: RawDelivery[] = [];
  for (const rec of latest.values()) {
    const h = rec.headers;
    if (h.format !== CHANGELOG_FORMAT || !h.exchange || !h.pair || rec.value === null || (h.part !== 'live' && h.part !== 'window')) {
      throw new Error(`${where} offset ${rec.offset}: not a candles state record (format ${h.format ?? 'none'}, part ${h.part ?? 'none'})`);
    }
    if (h.part === 'live') {
      lives.push(rec);
      continue;
    }
    const k = stateKey(h.exchange, h.pair);
    let l = windows.get(k);
    if (!l) windows.set(k, (l = []));
    l.push({ start: Number(h.window_start), offset: Number(h.input_offset), ids: rec.value.toString('utf8') });
  }
  const out: (Record<string, string> & { exchange: string; pair: string })[] = [];
  const intervalMs = stage.intervalS * 1000;
  for (const rec of lives) {
    const h = rec.headers as Record<string, string> & { exchange: string; pair: string };
    const upTo = Number(h.input_offset);
    const ws = (windows.get(stateKey(h.exchange, h.pair)) ?? []).filter((w) => w.offset <= upTo).sort((a, b) => a.start - b.start);
    const newest = ws.length > 0 ? (ws[ws.length - 1] as { start: number }).start : 0;
    const kept = ws.filter((w) => w.start > newest - WINDOW_SLOTS * intervalMs);
    stage.restorePair(h.exchange, (rec.value as Buffer).toString('utf8'), `[${kept.map((w) => w.ids).join(',')}]`);
    out.push(h);
  }
  return out;
}

interface CheckpointHeader {
  format: string;
  interval_s: number;
  grace_ms: number;
  written_at_ms: number;
  /** Per pair, the newest event time seen (trades and heartbeats; informational). */
  event_ms: Record<string, number>;
  exchanges: string[];
}

/**
 * The file: a JSON header line, then one line per exchange holding the
 * aggregator's snapshot as the aggregator wrote it (its 64-bit trade-id keys
 * must not pass through JavaScript numbers). Written to a temporary file,
 * fsynced, then renamed over the old one: a kill leaves the old or the new
 * checkpoint, never a mix.
 */
function writeCheckpointFile(path: string, header: CheckpointHeader, parts: [string, string][]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `${JSON.stringify(header)}\n`);
    for (const [, snap] of parts) {
      if (snap.includes('\n')) throw new Error('bug: aggregator snapshot spans lines');
      writeSync(fd, snap);
      writeSync(fd, '\n');
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function readCheckpointFile(path: string, intervalS: number, graceMs: number): { header: CheckpointHeader; stage: CandleStage } | null {
  if (!existsSync(path)) return null;
  const lines = readFileSync(path, 'utf8').split('\n');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(lines[0] ?? '') as CheckpointHeader;
  } catch (e) {
    throw new Error(`candles checkpoint ${path} is unreadable (${(e as Error).message}); delete it to start without it`);
  }
  if (header.format !== CHECKPOINT_FORMAT) throw new Error(`candles checkpoint ${path} has format ${header.format}, expected ${CHECKPOINT_FORMAT}; delete it to start without it`);
  if (header.interval_s !== intervalS || header.grace_ms !== graceMs) {
    throw new Error(
      `candles checkpoint ${path} was written with interval ${header.interval_s} s and grace ${header.grace_ms} ms, ` +
        `the service runs with ${intervalS} s and ${graceMs} ms; delete it (its open windows are lost) or restore the settings`,
    );
  }
  if (lines.length < header.exchanges.length + 1) throw new Error(`candles checkpoint ${path} is truncated; delete it to start without it`);
  const parts = header.exchanges.map((ex, i) => [ex, lines[i + 1] as string] as const);
  return { header, stage: CandleStage.fromParts(parts, { intervalS, graceMs }) };
}

interface DeadTrade {
  trade: Trade;
  reason: string;
}

export function candlesService(opts: CandlesServiceOptions = {}): Service {
  const intervalS = opts.intervalS ?? 60;
  const graceMs = opts.graceMs ?? 5000;
  let stage = new CandleStage({ intervalS, graceMs });
  /** Per pair, the newest event time seen. */
  const eventMs = new Map<string, number>();
  let sub: Subscription | null = null;
  let ctxRef: ServiceContext | null = null;
  let checkpointEveryMs = opts.checkpointEveryMs ?? 0;
  let lastCheckpointAt = -Infinity;

  // The outbox: what the stage emitted and is not published yet, in emission order.
  let outCandles: Candle[] = [];
  let outDead: DeadTrade[] = [];
  let chain: Promise<void> = Promise.resolve();
  let queued = 0;
  /** The batch last pushed into the stage: a retry of it only publishes what is left. */
  let lastBatch = '';

  const enqueue = (out: StageOutput | { candles: Candle[] }): void => {
    for (const c of out.candles) outCandles.push(c);
    if (!('late' in out)) return;
    let lateDuplicates = 0;
    for (const l of out.late) {
      // Its id was counted in that window already: a redelivery (at least once), not a late trade.
      if (l.duplicate) {
        lateDuplicates++;
        continue;
      }
      lateTrades().inc({ pair: l.trade.pair });
      outDead.push({ trade: l.trade, reason: `late: window starting ${new Date(l.window_start_ms).toISOString()} already closed` });
    }
    if (lateDuplicates > 0) duplicateTrades().inc({ pair: 'all' }, lateDuplicates);
    for (const r of out.rejected) outDead.push({ trade: r.trade, reason: `rejected by aggregator: ${r.reason}` });
    if (out.duplicates > 0) duplicateTrades().inc({ pair: 'all' }, out.duplicates);
  };

  /** Publish the outbox (one chain, so pairs stay ordered). On failure what was not published stays in it. */
  const flush = (): Promise<void> => {
    const ctx = ctxRef as ServiceContext;
    const job = async () => {
      try {
        if (outCandles.length > 0) {
          const candles = outCandles;
          outCandles = [];
          try {
            await ctx.bus.publish('candles', candles);
          } catch (e) {
            outCandles = candles.concat(outCandles);
            throw e;
          }
          for (const c of candles) {
            candlesClosed().inc({ pair: c.pair, filled: String(c.filled) });
            lastCandleEnd().set({ pair: c.pair }, c.window_end_ms / 1000);
            ctx.logger.info(
              { pair: c.pair, window_end: new Date(c.window_end_ms).toISOString(), close: c.close, volume: c.volume, trades: c.trade_count, filled: c.filled },
              'candle closed',
            );
          }
        }
        if (outDead.length > 0) {
          const dead = outDead;
          outDead = [];
          try {
            await ctx.bus.deadLetter(
              Topics.trades.name,
              dead.map((d) => ({ key: d.trade.pair, payload: JSON.stringify(d.trade), reason: d.reason, source: 'candles' })),
            );
          } catch (e) {
            outDead = dead.concat(outDead);
            throw e;
          }
          ctx.logger.warn({ count: dead.length, first: dead[0]?.reason }, 'trades reported to dlq.trades');
        }
      } finally {
        queued--;
      }
    };
    queued++;
    chain = chain.then(job, job);
    return chain;
  };

  /** Until the outbox is empty and no publish is in flight (then the state matches what is published). */
  const settle = async (): Promise<void> => {
    while (queued > 0 || outCandles.length > 0 || outDead.length > 0) await flush();
  };

  const checkpoint = async (force: boolean): Promise<void> => {
    const path = opts.checkpointPath;
    if (!path) return;
    const now = Date.now();
    if (!force && now - lastCheckpointAt < checkpointEveryMs) return;
    await settle();
    const parts = stage.snapshotParts();
    const event_ms: Record<string, number> = {};
    for (const [pair, ms] of eventMs) event_ms[pair] = ms;
    writeCheckpointFile(path, { format: CHECKPOINT_FORMAT, interval_s: intervalS, grace_ms: graceMs, written_at_ms: now, event_ms, exchanges: parts.map((p) => p[0]) }, parts);
    lastCheckpointAt = now;
  };

  const seen = (pair: string, ms: number): void => {
    if (ms > (eventMs.get(pair) ?? -Infinity)) eventMs.set(pair, ms);
  };

  /** Trades, trade batches and heartbeats in stream order: runs of trades in one aggregator call, a batch in one, a heartbeat moves its pair's watermark. */
  const push = (events: TradeEvent[], stage: CandleStage): void => {
    let run: Trade[] = [];
    const pushRun = () => {
      if (run.length > 0) enqueue(stage.pushMany(run));
      run = [];
    };
    for (const e of events) {
      if (isTradeBatch(e)) {
        pushRun();
        let newest = -Infinity;
        for (const ts of e.ts_ms) if (ts > newest) newest = ts;
        seen(e.pair, newest);
        enqueue(stage.pushColumns(e));
        continue;
      }
      seen(e.pair, e.ts_ms);
      if (!isHeartbeat(e)) {
        run.push(e);
        continue;
      }
      pushRun();
      const candles = stage.advance(e.final ? e.ts_ms : e.ts_ms - stage.graceMs, e.pair, e.exchange);
      if (candles.length > 0) enqueue({ candles });
    }
    pushRun();
  };

  // Kafka: the changelog and the state of each assigned input partition.
  let changelog: Changelog | null = null;
  const parts = new Map<number, PartitionState>();
  const partState = (p: number): PartitionState => {
    let ps = parts.get(p);
    if (!ps) parts.set(p, (ps = { stage: new CandleStage({ intervalS, graceMs }), offsets: new Map(), dirty: new Set(), closed: new Map() }));
    return ps;
  };

  /** The changed pairs' states to the changelog partition of their input partition. */
  const writeChangelog = async (p: number, ps: PartitionState): Promise<void> => {
    if (!changelog || ps.dirty.size === 0) return;
    const records: RawRecord[] = [];
    for (const k of ps.dirty) {
      const bar = k.indexOf('|');
      const exchange = k.slice(0, bar);
      const pair = k.slice(bar + 1);
      const recs = pairChangelogRecords(ps.stage, exchange, pair, ps.closed.get(k) ?? [], p, { input_offset: String(ps.offsets.get(k) ?? -1), event_ms: String(eventMs.get(pair) ?? '') });
      for (const r of recs) records.push(r);
    }
    await changelog.write(p, records);
    ps.dirty.clear();
    ps.closed.clear();
  };

  /** Rebalance (Kafka): drop the partitions lost, read back the state of those gained (or no longer current). */
  const onAssign = async (assigned: Map<string, number[]>): Promise<void> => {
    const cl = changelog as Changelog;
    const ctx = ctxRef as ServiceContext;
    const mine = assigned.get(Topics.trades.name) ?? [];
    const dropped: number[] = [];
    for (const p of [...parts.keys()]) {
      if (!mine.includes(p)) {
        parts.delete(p);
        cl.forget(p);
        dropped.push(p);
      }
    }
    const current = await cl.current(mine.filter((p) => parts.has(p)));
    const todo = mine.filter((p) => !current.has(p));
    lastBatch = ''; // a batch retried after this must be pushed again into the restored state
    const r = await cl.restore(todo);
    let pairs = 0;
    for (const p of todo) {
      parts.delete(p);
      const ps = partState(p);
      const restored = restorePairs(ps.stage, r.latest.get(p) ?? new Map<string, RawDelivery>(), `${cl.topic} partition ${p}`);
      for (const h of restored) {
        ps.offsets.set(stateKey(h.exchange, h.pair), Number(h.input_offset));
        const ev = Number(h.event_ms);
        if (h.event_ms && Number.isFinite(ev)) seen(h.pair, ev);
        pairs++;
      }
    }
    ctx.logger.info(
      { assigned: mine, kept: [...current], restored: todo, dropped, pairs, changelog_records: r.records, changelog_bytes: r.bytes, restore_ms: Math.round(r.ms) },
      'candles partitions assigned: state restored from the changelog before consuming',
    );
  };

  const onBatch = async (events: TradeEvent[], metas: MessageMeta<'trades'>[]): Promise<void> => {
    const first = metas[0] as MessageMeta<'trades'>;
    const last = metas[metas.length - 1] as MessageMeta<'trades'>;
    const id = `${first.topicName}/${first.partition}/${first.offset}-${last.offset}/${events.length}`;
    if (!changelog) {
      if (id !== lastBatch) {
        push(events, stage);
        lastBatch = id;
      }
      await flush();
      await checkpoint(false); // before the batch's offsets commit
      return;
    }
    // Kafka: one partition per batch; by partition all the same, in case.
    const byPart = new Map<number, number[]>();
    for (let i = 0; i < metas.length; i++) {
      const p = (metas[i] as MessageMeta<'trades'>).partition;
      let l = byPart.get(p);
      if (!l) byPart.set(p, (l = []));
      l.push(i);
    }
    if (id !== lastBatch) {
      let skipped = 0;
      for (const [p, idx] of byPart) {
        const ps = partState(p);
        const fresh: TradeEvent[] = [];
        for (const i of idx) {
          const e = events[i] as TradeEvent;
          const k = stateKey(e.exchange, e.pair);
          const off = Number((metas[i] as MessageMeta<'trades'>).offset);
          // Already in the restored state (a redelivery after a move or a crash): counted once.
          if (off <= (ps.offsets.get(k) ?? -1)) {
            skipped++;
            continue;
          }
          ps.offsets.set(k, off);
          ps.dirty.add(k);
          fresh.push(e);
        }
        const before = outCandles.length;
        push(fresh, ps.stage);
        // A window with trades closed: the pair's remembered ids changed.
        for (let i = before; i < outCandles.length; i++) {
          const c = outCandles[i] as Candle;
          if (c.trade_count > 0) {
            const k = stateKey(c.exchange, c.pair);
            const l = ps.closed.get(k);
            if (l) l.push(c.window_start_ms);
            else ps.closed.set(k, [c.window_start_ms]);
          }
        }
      }
      if (skipped > 0) {
        duplicateTrades().inc({ pair: 'all' }, skipped);
        ctxRef?.logger.debug({ skipped }, 'redelivered trades already in the restored state skipped');
      }
      lastBatch = id;
    }
    await flush();
    // The state that produced the published candles, before the batch's offsets commit.
    for (const p of byPart.keys()) await writeChangelog(p, partState(p));
  };

  return {
    name: 'candles',
    async start(ctx) {
      ctxRef = ctx;
      const group = opts.group ?? 'candles';
      changelog = Changelog.of(ctx.bus.transport, changelogTopic(group), ctx.logger);
      if (changelog) {
        const transport = ctx.bus.transport;
        const [inParts, clParts] = await Promise.all([transport.partitionEnds?.(Topics.trades.name), changelog.partitions()]);
        if (inParts && inParts.size !== clParts) {
          throw new Error(
            `${changelog.topic} has ${clParts} partitions and ${Topics.trades.name} has ${inParts.size}: a state changelog must have its input's partition count ` +
              `(recreate ${changelog.topic} with ${inParts.size} partitions; its state is rebuilt from the trades only for windows still open)`,
          );
        }
        if (opts.checkpointPath) ctx.logger.info({ checkpoint: opts.checkpointPath }, 'candles state comes from the changelog on Kafka: the checkpoint file is not used');
        changelog.prepare(transport);
        sub = await ctx.bus.consumeBatch({
          group,
          topics: ['trades'],
          fromBeginning: true,
          maxBatch: opts.maxBatch ?? 5000,
          handler: onBatch,
          onAssign,
        });
        ctx.logger.info({ interval_s: intervalS, grace_ms: graceMs, changelog: changelog.topic }, 'candles service consuming trades');
        return;
      }
      if (opts.checkpointEveryMs === undefined && ctx.bus.kind === 'memory') checkpointEveryMs = 1000;
      if (opts.checkpointPath) {
        const cp = readCheckpointFile(opts.checkpointPath, intervalS, graceMs);
        if (cp) {
          stage = cp.stage;
          for (const [pair, ms] of Object.entries(cp.header.event_ms)) seen(pair, ms);
          ctx.logger.info(
            { checkpoint: opts.checkpointPath, written_at: new Date(cp.header.written_at_ms).toISOString(), pairs: Object.keys(cp.header.event_ms).length },
            'candles service resumed its open windows from the checkpoint',
          );
        }
      }
      sub = await ctx.bus.consumeBatch({
        group: opts.group ?? 'candles',
        topics: ['trades'],
        fromBeginning: true,
        maxBatch: opts.maxBatch ?? 5000,
        handler: onBatch,
      });
      ctx.logger.info({ interval_s: stage.intervalS, grace_ms: stage.graceMs, checkpoint: opts.checkpointPath ?? null }, 'candles service consuming trades');
    },
    async stop() {
      await sub?.stop();
      sub = null;
      try {
        await settle();
        if (!changelog) await checkpoint(true);
      } catch (err) {
        ctxRef?.logger.error({ err }, 'candles service could not publish or checkpoint at stop');
      }
      const s = stage.stats();
      for (const ps of parts.values()) for (const [k, v] of Object.entries(ps.stage.stats())) s[k as keyof typeof s] += v;
      ctxRef?.logger.info(s, 'candles service stopped');
    },
  };
}
