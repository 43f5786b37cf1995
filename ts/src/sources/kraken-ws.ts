/**
 * Kraken WebSocket v2 trade source (wss://ws.kraken.com/v2), several pairs on one connection,
 * with dead-connection detection, reconnects (exponential backoff + jitter) and gap healing
 * from REST, so the emitted stream after a disconnect equals that of an uninterrupted run.
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
import { gapTradesTotal, healedTotal, reconnectsTotal, tradesTotal } from './metrics.ts';
import { normalizeKrakenPair } from './pairs.ts';
import { rejectInput } from './trade-check.ts';
import { realSleep, systemClock, type Clock, type Sleep, type TradeSink, type TradeSource } from './types.ts';
import { WsConnection } from './ws-connection.ts';

export const KRAKEN_WS_V2_URL = 'wss://ws.kraken.com/v2';

export interface KrakenWsOptions {
  /** Our pair names, e.g. ['BTC/USD', 'ETH/USD'] (the same as Kraken v2 symbols). */
  pairs: string[];
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
  /** Number of completed (re)subscriptions; for tests and logs. */
  subscriptions = 0;

  constructor(private readonly opts: KrakenWsOptions) {
    this.name = opts.sourceName ?? 'kraken-ws';
    this.clock = opts.clock ?? systemClock;
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    for (const p of opts.pairs) {
      const n = normalizeKrakenPair(p);
      if (n !== p) throw new Error(`KrakenWsSource: pair ${p} is not in our form (expected ${n ?? 'BASE/QUOTE'})`);
      this.state.set(p, { lastSeq: null, lastUs: null, startUs: null });
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

  run(sink: TradeSink): Promise<void> {
    this.running ??= this.loop(sink);
    return this.running;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.conn?.close('stopped');
    await this.running?.catch(() => undefined);
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
    const pairs = this.opts.pairs;
    const maxFutureMs = this.opts.maxFutureMs ?? 300_000;
    conn.send(JSON.stringify({ method: 'subscribe', params: { channel: 'trade', symbol: pairs, snapshot: this.opts.snapshot ?? false }, req_id: ++this.reqId }));
    const pendingAcks = new Set(pairs);
    const ackUs = new Map<string, number>();
    const held: SequencedTrade[] = [];
    let subscribed = false;
    const ackTimer = setTimeout(() => conn.close('dead', 'no subscribe ack'), this.opts.ackTimeoutMs ?? this.opts.deadAfterMs ?? 10_000);
    try {
      for (;;) {
        const ev = await conn.next();
        if (ev.type === 'closed') return { cause: ev.cause, detail: ev.detail, subscribed };
        const f = parseKrakenV2Frame(ev.text, { nowMs: this.clock(), maxFutureMs });
        switch (f.kind) {
          case 'reject':
            for (const r of f.rejects) rejectInput(sink, this.name, r.raw, r.kind, r.detail);
            break;
          case 'ack': {
            if (f.method !== 'subscribe') break;
            if (!f.success) throw new FatalSourceError(`kraken subscribe to ${f.symbol ?? '?'} failed: ${f.error ?? 'no reason given'}`);
            if (f.channel !== 'trade') break;
            const pair = f.symbol === undefined ? null : normalizeKrakenPair(f.symbol);
            if (pair === null || !pendingAcks.has(pair)) break;
            pendingAcks.delete(pair);
            ackUs.set(pair, f.timeInUs ?? this.clock() * 1000);
            if (f.timeInUs !== undefined) this.observeClock(f.timeInUs / 1000);
            if (pendingAcks.size === 0 && !subscribed) {
              clearTimeout(ackTimer);
              subscribed = true;
              this.subscriptions++;
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
    }
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
