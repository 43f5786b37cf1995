/**
 * Kraken WebSocket v2 trade source (wss://ws.kraken.com/v2), several pairs on one connection,
 * with dead-connection detection, reconnects (exponential backoff + jitter) and gap healing
 * from REST, so the emitted stream after a disconnect equals that of an uninterrupted run.
 *
 * Many pairs: the subscribe request carries a list of symbols and Kraken acknowledges each
 * symbol separately (https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/trade);
 * its documentation gives no limit on symbols per request or per connection, and says the
 * message rate limit exists without a figure. So the pairs go in subscribe messages of
 * `subscribeBatch` symbols, `subscribeIntervalMs` apart, and over ceil(pairs /
 * `pairsPerConnection`) connections (each its own session below, same sink). Every ack is
 * checked per symbol: a symbol Kraken refuses is logged, counted
 * (tickcast_source_subscribe_rejected_total) and left out until the process restarts; the
 * other pairs go on. Only when every pair of the source is refused does run() fail
 * (FatalSourceError). A failed ack that names none of our symbols (a rate limit, a request
 * Kraken could not read) ends the session: reconnect with backoff and subscribe again.
 *
 * Connection state machine (one pass of `session()` per connection):
 *
 *   connecting ──open──► subscribing ──all acks──► healing ──REST caught up──► live
 *       ▲  │ fail              │ close/dead/no ack    │ (frames queue meanwhile)  │ close/dead
 *       │  ▼                   ▼                      ▼                           ▼
 *       └──────────────────── backoff (sleep with jitter) ◄───────────────────────┘
 *
 * Healing: after every re-subscribe, for each pair, GET /0/public/Trades since the last trade
 * seen (or, if none was seen, since the first subscription was acknowledged), paged with
 * `last`, until the page reaches the new subscription's ack time (`time_in`) or is empty.
 * Trades are de-duplicated by Kraken's trade id, which is a sequence number per pair: a trade
 * is emitted only if its id is above the last emitted one, so snapshots, REST overlap and the
 * frames that queued during healing never repeat a trade, and each pair stays in id order.
 * A jump in ids that healing could not close is counted (tickcast_source_gap_trades_total).
 *
 * Event clock: once live (healed, held frames delivered), each Kraken heartbeat frame
 * (about one a second) sends every pair's heartbeat (TradeHeartbeat) at Kraken's clock,
 * estimated as our clock minus the least (our clock - trade time) seen on live trades (the
 * subscribe ack's time_in before any), never behind the pair's last trade: the quiet minutes
 * close downstream on it. While connecting or healing nothing is sent, so a stalled source
 * closes nothing.
 *
 * A bounded sink (the ingest outbox while the broker is away) that is full ends the
 * session before the next trades are taken (they are not marked seen); the source waits
 * until the sink has room, reconnects, and heals the gap from REST as after any drop.
 */
import type { Logger } from 'pino';
import type { Trade } from '../contracts/messages.ts';
import { backoffDelayMs, type BackoffOptions } from './backoff.ts';
import { KrakenRestClient, type KrakenRestOptions } from './kraken-rest.ts';
import { KRAKEN_EXCHANGE, parseKrakenV2Frame, type SequencedTrade } from './kraken-ws-frames.ts';
import { gapTradesTotal, healedTotal, reconnectsTotal, subscribeRejectedTotal, tradesTotal } from './metrics.ts';
import { normalizeKrakenPair } from './pairs.ts';
import { rejectInput } from './trade-check.ts';
import { realSleep, systemClock, type Clock, type Sleep, type TradeSink, type TradeSource } from './types.ts';
import { WsConnection, type WsEvent } from './ws-connection.ts';

export const KRAKEN_WS_V2_URL = 'wss://ws.kraken.com/v2';
/** Defaults of the many-pairs options (our choices: Kraken documents no figure). */
export const KRAKEN_SUBSCRIBE_BATCH = 50;
export const KRAKEN_PAIRS_PER_CONNECTION = 500;
export const KRAKEN_SUBSCRIBE_INTERVAL_MS = 200;

export interface KrakenWsOptions {
  /** Our pair names, e.g. ['BTC/USD', 'ETH/USD'] (the same as Kraken v2 symbols). */
  pairs: string[];
  /**
   * Closing ticks: also every pair's heartbeat when Kraken's estimated clock reaches a window end + the candles'
   * grace (live only, as the other heartbeats), so a quiet pair's minute closes when its grace ends, not at the
   * next heartbeat frame (up to a second later).
   */
  closeTicks?: { intervalMs: number; graceMs: number };
  logger: Logger;
  /** Default wss://ws.kraken.com/v2. */
  url?: string;
  /** REST base URL for gap healing. Default https://api.kraken.com. */
  restBaseUrl?: string;
  /** Heal gaps from REST after a reconnect. Default true. */
  heal?: boolean;
  /** No frame (trade, heartbeat, status) for this long = dead connection. Default 10 s (Kraken heartbeats about once a second). */
  deadAfterMs?: number;
  /** Subscribe must be acknowledged within this long after open. Default deadAfterMs. */
  ackTimeoutMs?: number;
  /** Reconnect backoff. Default base 500 ms, max 30 s, jitter 0.5. */
  backoff?: BackoffOptions;
  /** REST retry options (backoff, attempts). */
  rest?: Pick<KrakenRestOptions, 'backoff' | 'maxAttempts' | 'timeoutMs'>;
  /** Ask Kraken for the last 50 trades on every subscribe (de-duplicated). Default false. */
  snapshot?: boolean;
  /** If set, the first connection also backfills from REST from this instant (epoch ms). */
  sinceMs?: number;
  /** Reject trades more than this far ahead of the clock. Default 5 min. */
  maxFutureMs?: number;
  clock?: Clock;
  sleep?: Sleep;
  random?: () => number;
  /** Metric label. Default 'kraken-ws'. */
  sourceName?: string;
  /** Symbols per subscribe message. Default KRAKEN_SUBSCRIBE_BATCH. */
  subscribeBatch?: number;
  /** Pairs per WebSocket connection; more pairs open more connections. Default KRAKEN_PAIRS_PER_CONNECTION. */
  pairsPerConnection?: number;
  /** Wait between two subscribe messages on one connection. Default KRAKEN_SUBSCRIBE_INTERVAL_MS. */
  subscribeIntervalMs?: number;
}

interface PairState {
  /** Id and time (µs) of the last emitted trade. */
  lastSeq: number | null;
  lastUs: number | null;
  /** Ack time (µs) of the first subscription: where this pair's stream begins. */
  startUs: number | null;
}

type SessionEnd = { cause: string; detail: string; subscribed: boolean };

export class KrakenWsSource implements TradeSource {
  readonly name: string;
  private readonly state = new Map<string, PairState>();
  private readonly rest: KrakenRestClient;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly abort = new AbortController();
  private conn: WsConnection | null = null;
  private running: Promise<void> | null = null;
  private reqId = 0;
  private firstSession = true;
  /** Our clock minus Kraken's (least seen on live trades and acks), for heartbeats; null until known. */
  private clockOffsetMs: number | null = null;
  private completedSubscriptions = 0;
  /** Pairs Kraken refused, with its reason: left out of every later subscribe. */
  private readonly refusedPairs = new Map<string, string>();
  /** One source per connection when the pairs need several (this one then only runs them). */
  private readonly shards: KrakenWsSource[] = [];

  constructor(private readonly opts: KrakenWsOptions) {
    this.name = opts.sourceName ?? 'kraken-ws';
    this.clock = opts.clock ?? systemClock;
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    const perConn = opts.pairsPerConnection ?? KRAKEN_PAIRS_PER_CONNECTION;
    const batch = opts.subscribeBatch ?? KRAKEN_SUBSCRIBE_BATCH;
    if (!Number.isSafeInteger(perConn) || perConn < 1) throw new Error(`KrakenWsSource: pairsPerConnection must be an integer >= 1 (got ${perConn})`);
    if (!Number.isSafeInteger(batch) || batch < 1) throw new Error(`KrakenWsSource: subscribeBatch must be an integer >= 1 (got ${batch})`);
    if (new Set(opts.pairs).size !== opts.pairs.length) throw new Error('KrakenWsSource: a pair is listed twice');
    for (const p of opts.pairs) {
      const n = normalizeKrakenPair(p);
      if (n !== p) throw new Error(`KrakenWsSource: pair ${p} is not in our form (expected ${n ?? 'BASE/QUOTE'})`);
      this.state.set(p, { lastSeq: null, lastUs: null, startUs: null });
    }
    if (opts.pairs.length > perConn) {
      for (let i = 0; i < opts.pairs.length; i += perConn) {
        this.shards.push(new KrakenWsSource({ ...opts, pairs: opts.pairs.slice(i, i + perConn), pairsPerConnection: perConn }));
      }
    }
    this.rest = new KrakenRestClient({
      logger: opts.logger,
      clock: this.clock,
      sleep: this.sleep,
      random: this.random,
      sourceName: this.name,
      ...(opts.restBaseUrl !== undefined ? { baseUrl: opts.restBaseUrl } : {}),
      ...(opts.maxFutureMs !== undefined ? { maxFutureMs: opts.maxFutureMs } : {}),
      ...opts.rest,
    });
  }

  /** Number of completed (re)subscriptions over all connections; for tests and logs. */
  get subscriptions(): number {
    return this.shards.length ? this.shards.reduce((n, s) => n + s.subscriptions, 0) : this.completedSubscriptions;
  }

  /** WebSocket connections this source keeps (one per shard of pairs). */
  get connections(): number {
    return Math.max(1, this.shards.length);
  }

  /** Pairs Kraken refused (pair -> its error), over all connections. */
  refused(): Map<string, string> {
    if (!this.shards.length) return new Map(this.refusedPairs);
    return new Map(this.shards.flatMap((s) => [...s.refused()]));
  }

  run(sink: TradeSink): Promise<void> {
    this.running ??= this.shards.length ? this.runShards(sink) : this.loop(sink);
    return this.running;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.conn?.close('stopped');
    await Promise.all(this.shards.map((s) => s.stop()));
    await this.running?.catch(() => undefined);
  }

  /** Every connection at once; one whose pairs were all refused ends alone, unless all did. */
  private async runShards(sink: TradeSink): Promise<void> {
    const fatal: FatalSourceError[] = [];
    this.opts.logger.info({ pairs: this.opts.pairs.length, connections: this.shards.length }, 'kraken ws: pairs spread over several connections');
    await Promise.all(
      this.shards.map((s, i) =>
        s.run(sink).catch(async (e: unknown) => {
          if (e instanceof FatalSourceError) {
            fatal.push(e);
            if (fatal.length < this.shards.length) this.opts.logger.error({ connection: i, err: e.message }, 'kraken ws: every pair of one connection was refused; the other connections go on');
            return;
          }
          await this.stop();
          throw e;
        }),
      ),
    );
    if (fatal.length === this.shards.length && !this.stopped) {
      throw new FatalSourceError(`kraken refused every pair: ${[...this.refused()].map(([p, e]) => `${p} (${e})`).join(', ')}`);
    }
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async loop(sink: TradeSink): Promise<void> {
    const log = this.opts.logger;
    const deadAfterMs = this.opts.deadAfterMs ?? 10_000;
    let attempt = 0;
    while (!this.stopped) {
      let end: SessionEnd;
      try {
        this.conn = await WsConnection.open(this.opts.url ?? KRAKEN_WS_V2_URL, { deadAfterMs });
        end = await this.session(this.conn, sink);
      } catch (e) {
        if (e instanceof FatalSourceError) throw e;
        end = e instanceof SinkFullError ? { cause: 'sink_full', detail: e.message, subscribed: true } : { cause: 'connect_failed', detail: (e as Error).message, subscribed: false };
      } finally {
        this.conn?.close('stopped');
        this.conn = null;
      }
      if (this.stopped) break;
      if (end.cause === 'sink_full') {
        log.warn('trade sink full (the broker is away?): disconnected from kraken until it has room, then the gap is healed from REST');
        await sink.whenRoom?.();
        if (this.stopped) break;
      }
      if (end.subscribed) attempt = 0;
      const delay = backoffDelayMs(attempt++, { baseMs: 500, maxMs: 30_000, ...this.opts.backoff }, this.random);
      reconnectsTotal().inc({ source: this.name, cause: end.cause });
      log.warn({ cause: end.cause, detail: end.detail, delay_ms: delay, attempt }, 'kraken ws disconnected; reconnecting');
      await this.sleep(delay, this.abort.signal);
    }
  }

  private async session(conn: WsConnection, sink: TradeSink): Promise<SessionEnd> {
    const pairs = [...this.state.keys()];
    const maxFutureMs = this.opts.maxFutureMs ?? 300_000;
    const batch = this.opts.subscribeBatch ?? KRAKEN_SUBSCRIBE_BATCH;
    const pendingAcks = new Set(pairs);
    for (let i = 0; i < pairs.length; i += batch) {
      if (i > 0) await this.sleep(this.opts.subscribeIntervalMs ?? KRAKEN_SUBSCRIBE_INTERVAL_MS, this.abort.signal);
      if (this.stopped) return { cause: 'stopped', detail: 'stopped while subscribing', subscribed: false };
      conn.send(JSON.stringify({ method: 'subscribe', params: { channel: 'trade', symbol: pairs.slice(i, i + batch), snapshot: this.opts.snapshot ?? false }, req_id: ++this.reqId }));
    }
    const ackUs = new Map<string, number>();
    const held: SequencedTrade[] = [];
    let subscribed = false;
    const ackTimer = setTimeout(() => conn.close('dead', 'no subscribe ack'), this.opts.ackTimeoutMs ?? this.opts.deadAfterMs ?? 10_000);
    const ticks = this.opts.closeTicks;
    /** The next frame (kept across a closing tick), and the armed closing tick. */
    let pending: Promise<WsEvent> | null = null;
    let tick: { timer: NodeJS.Timeout; fired: Promise<'tick'>; offset: number; at: number } | null = null;
    try {
      for (;;) {
        pending ??= conn.next();
        let ev: WsEvent;
        if (ticks && subscribed && this.clockOffsetMs !== null) {
          if (tick && tick.offset !== this.clockOffsetMs) {
            // The clock estimate moved (a live trade showed Kraken's clock ahead): aim again.
            clearTimeout(tick.timer);
            tick = null;
          }
          if (!tick) {
            const now: number = this.clock() - this.clockOffsetMs;
            const at: number = Math.floor((now - ticks.graceMs) / ticks.intervalMs) * ticks.intervalMs + ticks.intervalMs + ticks.graceMs;
            let timer!: NodeJS.Timeout;
            const fired = new Promise<'tick'>((r) => (timer = setTimeout(() => r('tick'), Math.max(0, Math.ceil(at - now)))));
            tick = { timer, fired, offset: this.clockOffsetMs, at };
          }
          const got = await Promise.race([pending, tick.fired]);
          if (got === 'tick') {
            // A timer may fire a millisecond early: then it is aimed again at the same tick.
            const early = this.clock() - this.clockOffsetMs < tick.at;
            tick = null;
            if (!early) await this.beat(sink);
            continue;
          }
          ev = got;
        } else ev = await pending;
        pending = null;
        if (ev.type === 'closed') return { cause: ev.cause, detail: ev.detail, subscribed };
        const f = parseKrakenV2Frame(ev.text, { nowMs: this.clock(), maxFutureMs });
        switch (f.kind) {
          case 'reject':
            for (const r of f.rejects) rejectInput(sink, this.name, r.raw, r.kind, r.detail);
            break;
          case 'ack': {
            if (f.method !== 'subscribe') break;
            const pair = f.symbol === undefined ? null : normalizeKrakenPair(f.symbol);
            if (!f.success) {
              if (pair === null) {
                // Nothing to pin it on (a rate limit, a request Kraken could not read): subscribe again on a new connection.
                if (!subscribed) return { cause: 'subscribe_failed', detail: f.error ?? 'subscribe failed without a reason', subscribed };
                break;
              }
              if (!pendingAcks.has(pair)) break;
              pendingAcks.delete(pair);
              this.refuse(pair, f.error ?? 'no reason given');
            } else {
              if (f.channel !== 'trade') break;
              if (pair === null || !pendingAcks.has(pair)) break;
              pendingAcks.delete(pair);
              ackUs.set(pair, f.timeInUs ?? this.clock() * 1000);
              if (f.timeInUs !== undefined) this.observeClock(f.timeInUs / 1000);
            }
            if (pendingAcks.size === 0 && !subscribed) {
              clearTimeout(ackTimer);
              if (this.state.size === 0) {
                throw new FatalSourceError(`kraken refused every pair: ${[...this.refusedPairs].map(([p, e]) => `${p} (${e})`).join(', ')}`);
              }
              subscribed = true;
              this.completedSubscriptions++;
              await this.heal(sink, ackUs);
              this.firstSession = false;
              held.sort(bySeq);
              await this.deliver(sink, held.splice(0));
            }
            break;
          }
          case 'trades':
            for (const r of f.rejects) rejectInput(sink, this.name, r.raw, r.kind, r.detail);
            if (f.snapshot) f.trades.sort(bySeq);
            else for (const t of f.trades) this.observeClock(t.trade.ts_ms);
            if (subscribed) await this.deliver(sink, f.trades);
            else held.push(...f.trades);
            break;
          case 'heartbeat':
            if (subscribed) await this.beat(sink);
            break;
          default:
            break; // status, pong: liveness only (the watchdog saw the frame)
        }
      }
    } finally {
      clearTimeout(ackTimer);
      if (tick) clearTimeout(tick.timer);
    }
  }

  /** Kraken refused this pair: left out from now on (logged, counted). */
  private refuse(pair: string, error: string): void {
    this.state.delete(pair);
    this.refusedPairs.set(pair, error);
    subscribeRejectedTotal().inc({ source: this.name, pair });
    this.opts.logger.error({ pair, error }, 'kraken refused the subscription to a pair: it is left out, the other pairs go on');
  }

  /** REST: everything each pair missed between its last trade and the new subscription. */
  private async heal(sink: TradeSink, ackUs: Map<string, number>): Promise<void> {
    for (const [pair, st] of this.state) {
      const stopUs = ackUs.get(pair)!;
      let cursor: string;
      if (this.firstSession && st.lastUs === null) {
        st.startUs ??= stopUs;
        if (this.opts.sinceMs === undefined) continue;
        cursor = `${BigInt(Math.floor(this.opts.sinceMs)) * 1_000_000n}`;
      } else if (st.lastUs !== null) {
        cursor = `${BigInt(st.lastUs) * 1000n - 1n}`; // include trades at the same µs; dedup drops the seen ones
      } else {
        cursor = `${BigInt(st.startUs ?? stopUs) * 1000n}`;
      }
      if (this.opts.heal === false) continue;
      for (let pages = 0; !this.stopped; pages++) {
        let page;
        try {
          page = await this.rest.tradesPage(pair, cursor, this.abort.signal);
        } catch (e) {
          if (!this.stopped) this.opts.logger.error({ pair, cursor, err: (e as Error).message }, 'kraken gap healing from REST failed; continuing live');
          break;
        }
        for (const r of page.rejects) rejectInput(sink, this.name, r.raw, r.kind, r.detail);
        const n = await this.deliver(sink, page.trades.sort(bySeq));
        if (n) healedTotal().inc({ source: this.name, pair }, n);
        if (page.trades.length === 0 || page.trades.some((t) => t.tsUs >= stopUs) || BigInt(page.last) <= BigInt(cursor)) break;
        cursor = page.last;
      }
    }
  }

  /** Every pair's heartbeat at Kraken's estimated clock, never behind its last trade (live only: everything before is delivered). */
  private observeClock(exchangeMs: number): void {
    const off = this.clock() - exchangeMs;
    if (this.clockOffsetMs === null || off < this.clockOffsetMs) this.clockOffsetMs = off;
  }

  private async beat(sink: TradeSink): Promise<void> {
    if (!sink.heartbeat || this.clockOffsetMs === null) return;
    const now = Math.floor(this.clock() - this.clockOffsetMs);
    for (const [pair, st] of this.state) {
      const ts = Math.max(now, st.lastUs === null ? 0 : Math.floor(st.lastUs / 1000));
      await sink.heartbeat({ kind: 'heartbeat', exchange: KRAKEN_EXCHANGE, pair, ts_ms: ts, final: false });
    }
  }

  /** Emit trades above each pair's last id, in the given order; returns how many were emitted. */
  private async deliver(sink: TradeSink, trades: SequencedTrade[]): Promise<number> {
    if (trades.length > 0 && sink.full?.()) throw new SinkFullError('the trade sink is full');
    const out: Trade[] = [];
    for (const t of trades) {
      const st = this.state.get(t.trade.pair);
      if (!st) {
        rejectInput(sink, this.name, JSON.stringify(t.trade), 'unknown_pair', `${t.trade.pair} was not subscribed`);
        continue;
      }
      if (st.lastSeq !== null) {
        if (t.seq <= st.lastSeq) continue;
        if (t.seq > st.lastSeq + 1) {
          gapTradesTotal().inc({ source: this.name, pair: t.trade.pair }, t.seq - st.lastSeq - 1);
          this.opts.logger.warn({ pair: t.trade.pair, after: st.lastSeq, next: t.seq }, 'kraken trade ids skipped');
        }
      }
      st.lastSeq = t.seq;
      st.lastUs = t.tsUs;
      out.push(t.trade);
      tradesTotal().inc({ source: this.name, pair: t.trade.pair });
    }
    if (out.length) await sink.trades(out);
    return out.length;
  }
}

/** The sink has no room: end the session, wait, reconnect and heal. */
class SinkFullError extends Error {
  override name = 'SinkFullError';
}

/** An error that reconnecting cannot fix (e.g. the exchange refuses a pair). */
export class FatalSourceError extends Error {
  override name = 'FatalSourceError';
}

const bySeq = (a: SequencedTrade, b: SequencedTrade): number => a.seq - b.seq;
