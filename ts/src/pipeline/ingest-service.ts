/**
 * The ingest service: an exchange trade source -> `trades`; input the source
 * rejects -> `dlq.trades` with its reason.
 *
 * Source `auto` (the embedded default): Kraken WebSocket v2 live when it is
 * reachable; otherwise one log line says so and the bundled real sample
 * (data/sample/trades) is replayed.
 *
 * Between the source and the bus sits the outbox (trade-outbox.ts): the
 * broker away never loses a trade (held in order, retried without giving up;
 * a live source heals what did not fit from the exchange's history). The
 * service is not ready while publishing fails or after its source failed; a
 * failed source makes the process exit non-zero (ctx.fail), so it restarts.
 * The sources' heartbeats (TradeHeartbeat) go to `trades` with the trades.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { Logger } from 'pino';
import type { Trade } from '../contracts/messages.ts';
import { Topics, tradeBatches } from '../contracts/messages.ts';
import type { Service, ServiceContext } from '../services/runner.ts';
import { TradeOutbox } from './trade-outbox.ts';
import { KrakenWsSource, KRAKEN_WS_V2_URL, BinanceWsSource, ReplaySource, tradesOfFile, type KrakenWsOptions, type TradeSink, type TradeSource, type ReplaySpeed } from '../sources/index.ts';
import type { ReplayInput } from '../sources/replay.ts';

export type IngestSourceKind = 'auto' | 'kraken' | 'binance' | 'replay';

export interface IngestOptions {
  source?: IngestSourceKind;
  pairs: readonly string[];
  /** Files to replay (source replay, or auto without network). Default: the bundled sample. */
  replayFiles?: readonly string[];
  /** Replay speed: a factor of real time, or 'max'. Default 60. */
  replaySpeed?: ReplaySpeed;
  krakenWsUrl?: string;
  krakenRestUrl?: string;
  /** Many pairs on Kraken: symbols per subscribe message, pairs per connection, wait between subscribe messages. */
  kraken?: Pick<KrakenWsOptions, 'subscribeBatch' | 'pairsPerConnection' | 'subscribeIntervalMs'>;
  /** How long auto waits for Kraken before falling back to the sample. Default 5 s. */
  probeTimeoutMs?: number;
  /**
   * Replay the files again and again (the offline embedded run, so the system
   * keeps running) in the present: each pass, the first too, is shifted to start
   * now and past the previous one, and its trade ids get a `~<pass>` suffix, so
   * nothing collides with the first pass (see loopingFileInput).
   */
  replayLoop?: boolean;
  /** Trades and heartbeats the outbox holds while the broker is away (default 100 000). */
  outboxCapacity?: number;
  /** The candles' window and grace: a replay sends every pair's heartbeat as each window's grace ends (ReplaySource closeTicks). */
  closeTicks?: { intervalMs: number; graceMs: number };
}

/**
 * A file's trades, repeated `passes` times, as a stand-in for the live market: every pass,
 * the first too, is shifted in time so that it starts now (its first trade within the minute
 * before `clock()` when the pass starts), and never before the minute after the previous pass
 * ended. Shifts are whole minutes, so each pass gives the file's own candles. At a replay
 * speed above 1 a pass plays faster than the wall clock, so its event time runs ahead of it
 * (never behind: freshness checks see fresh data from the first trade on).
 */
export function loopingFileInput(path: string, passes = Infinity, clock: () => number = Date.now): ReplayInput {
  const floorMin = (ms: number) => Math.floor(ms / 60_000) * 60_000;
  const ceilMin = (ms: number) => Math.ceil(ms / 60_000) * 60_000;
  return async function* (onReject) {
    let prevEnd: number | null = null;
    for (let k = 0; k < passes; k++) {
      let shift = 0;
      let first: number | null = null;
      let last = 0;
      for await (const t of tradesOfFile(path, {}, onReject)) {
        if (first === null) {
          first = t.ts_ms;
          shift = floorMin(clock() - first);
          if (prevEnd !== null) shift = Math.max(shift, ceilMin(prevEnd + 60_000 - first));
        }
        last = t.ts_ms;
        yield { ...t, ...(k > 0 ? { trade_id: `${t.trade_id}~${k}` } : {}), ts_ms: t.ts_ms + shift };
      }
      if (first === null) return;
      prevEnd = last + shift;
    }
  };
}

/** The bundled real trade sample (MIT; see data/sample/trades/README.md). */
export function bundledSampleFiles(): string[] {
  const dir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../data/sample/trades');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.csv') || f.endsWith('.csv.gz'))
    .sort()
    .map((f) => join(dir, f));
}

/** Can we open a WebSocket to this URL within the timeout? */
export function probeWebSocket(url: string, timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  return new Promise((res) => {
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
    const done = (r: { ok: true } | { ok: false; reason: string }) => {
      clearTimeout(t);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      res(r);
    };
    const t = setTimeout(() => done({ ok: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
    ws.once('open', () => done({ ok: true }));
    ws.once('error', (e) => done({ ok: false, reason: e.message }));
  });
}

/** A sink that publishes to the bus. */
export function busSink(ctx: Pick<ServiceContext, 'bus' | 'logger'>, sourceName: () => string): TradeSink {
  return {
    trades: (batch: Trade[]) => ctx.bus.publish('trades', tradeBatches(batch)),
    heartbeat: (hb) => ctx.bus.publish('trades', [hb]),
    reject(raw: string, reason: string) {
      ctx.bus
        .deadLetter(Topics.trades.name, [{ key: null, payload: raw, reason, source: `ingest/${sourceName()}` }])
        .catch((err: unknown) => ctx.logger.error({ err, reason }, 'could not dead-letter a rejected trade frame'));
    },
  };
}

async function chooseSource(opts: IngestOptions, log: Logger): Promise<TradeSource> {
  const kind = opts.source ?? 'auto';
  const replay = (): TradeSource => {
    const files = opts.replayFiles && opts.replayFiles.length > 0 ? opts.replayFiles : bundledSampleFiles();
    if (files.length === 0) throw new Error('no trade files to replay (the bundled sample data/sample/trades is missing)');
    const speed = opts.replaySpeed ?? 60;
    const loop = opts.replayLoop === true;
    const sources = files.map((f) =>
      loop
        ? new ReplaySource(loopingFileInput(f), { speed, sourceName: 'replay', ...(opts.closeTicks ? { closeTicks: opts.closeTicks } : {}) })
        : ReplaySource.fromFile(f, { speed, sourceName: 'replay', ...(opts.closeTicks ? { closeTicks: opts.closeTicks } : {}) }),
    );
    log.info({ files, speed, loop }, loop ? 'replaying trade files in a loop (each pass shifted in time)' : 'replaying trade files');
    return allOf(sources);
  };
  if (kind === 'replay') return replay();
  if (kind === 'binance') return new BinanceWsSource({ pairs: [...opts.pairs], logger: log });
  const url = opts.krakenWsUrl ?? KRAKEN_WS_V2_URL;
  if (kind === 'auto') {
    const probe = await probeWebSocket(url, opts.probeTimeoutMs ?? 5000);
    if (!probe.ok) {
      log.warn(`Kraken is not reachable (${probe.reason}): replaying the bundled real sample instead (set TICKCAST_INGEST_SOURCE=kraken to insist on live data)`);
      return replay();
    }
    log.info({ url }, 'Kraken reachable: live trades');
  }
  return new KrakenWsSource({ pairs: [...opts.pairs], logger: log, url, ...(opts.krakenRestUrl ? { restBaseUrl: opts.krakenRestUrl } : {}), ...opts.kraken, ...(opts.closeTicks ? { closeTicks: opts.closeTicks } : {}) });
}

/** Several sources as one (they run concurrently). */
function allOf(sources: TradeSource[]): TradeSource {
  if (sources.length === 1) return sources[0] as TradeSource;
  return {
    name: sources[0]?.name ?? 'multi',
    async run(sink) {
      await Promise.all(sources.map((s) => s.run(sink)));
    },
    async stop() {
      await Promise.all(sources.map((s) => s.stop()));
    },
  };
}

export function ingestService(opts: IngestOptions): Service {
  let source: TradeSource | null = null;
  let outbox: TradeOutbox | null = null;
  let running: Promise<void> | null = null;
  let sourceFailed = false;
  return {
    name: 'ingest',
    async start(ctx) {
      source = await chooseSource(opts, ctx.logger);
      const s = source;
      const direct = busSink(ctx, () => s.name);
      const box = new TradeOutbox({
        // A pair's trades that come together (a frame, a replay step, what piled up in an outage) go as one batch message.
        publish: (events) => ctx.bus.publish('trades', tradeBatches(events)),
        reject: (raw, reason) => direct.reject(raw, reason),
        logger: ctx.logger,
        source: s.name,
        ...(opts.outboxCapacity !== undefined ? { capacityTrades: opts.outboxCapacity } : {}),
      });
      outbox = box;
      running = s
        .run(box)
        .then(() => box.idle())
        .then(() => ctx.logger.info({ source: s.name }, 'trade source finished (everything it produced is published)'))
        .catch((err: unknown) => {
          if (ctx.signal.aborted) return;
          sourceFailed = true;
          ctx.logger.error({ err, source: s.name }, 'trade source failed');
          ctx.fail?.(err);
        });
    },
    ready() {
      return !sourceFailed && (outbox?.healthy() ?? false);
    },
    async stop() {
      await source?.stop();
      await running;
      // Publish what is held (bounded by the process's shutdown timeout), then stop.
      await outbox?.idle();
      outbox?.close();
    },
  };
}
