/**
 * The in-process transport (embedded mode, unit tests).
 *
 * Payloads: raw bytes (`send`: publishRaw, dead letters) are carried and
 * decoded + validated by each consumer exactly as on Kafka. Messages published
 * through Bus.publish arrive through `sendValidated`: the bus has validated a
 * private copy of each; this transport keeps that copy (no one else holds it)
 * and gives every delivery a fresh copy of it, so a consumer receives provably
 * the value that passed the schema and the bus skips decoding and validating
 * it again. No JSON is encoded or parsed for them.
 *
 * Model: one append-only log per topic (a single partition, so every key stays
 * ordered); each consumer group keeps a committed cursor per topic, advanced
 * only after its handler resolved (after the whole batch, for a batch
 * consumer). A stopped group resumes at its cursor, a new group starts at the
 * end or, with fromBeginning, at the earliest retained record. One active
 * consumer per group. Each group delivers sequentially in publish order across
 * its topics.
 *
 * Memory is bounded: records every group has consumed are trimmed once a topic
 * holds more than `retainMessages`; `send` waits while an active consumer of
 * the topic lags more than `highWaterMark` (backpressure; never on its own
 * group, so a handler may publish to a topic it reads). A stopped group that
 * falls more than `maxRetainedMessages` behind loses the oldest records, like
 * Kafka retention, with a warning. These three count messages by their
 * weight (ValidatedRecord.weight): a trade batch counts as its trades, so a
 * topic of batches holds no more trades than one of single trades would.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import type { RawDelivery, RawRecord, SubscribeOptions, Subscription, Transport, ValidatedRecord } from './transport.ts';
import { consumerLag } from '../ops/metrics.ts';
import { copyMessage } from '../contracts/codec.ts';

export interface MemoryTransportOptions {
  logger: Logger;
  /** Records kept per topic for late `fromBeginning` subscribers (default 10 000). */
  retainMessages?: number;
  /** Hard cap per topic (default 200 000). */
  maxRetainedMessages?: number;
  /** A publisher waits while an active consumer lags more than this (default 10 000). */
  highWaterMark?: number;
  /** Delay before redelivering a record whose eachRecord threw (default 500 ms). */
  redeliveryDelayMs?: number;
}

interface Entry {
  seq: number;
  offset: number;
  /** The topic's total weight before this record (weights: ValidatedRecord.weight, 1 for bytes). */
  cum: number;
  key: string | null;
  value: Buffer | null;
  /** A validated message (sendValidated), private to the transport; value is null then. */
  message: unknown;
  headers: Record<string, string>;
  ts: number;
}

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

class TopicLog {
  entries: Entry[] = [];
  /** Offset of entries[0]. */
  base = 0;
  /** Total weight of every record appended (Entry.cum of the next one). */
  cumEnd = 0;
  get end(): number {
    return this.base + this.entries.length;
  }
  /** Weight of the records from `offset` (at or after `base`) to the end. */
  weightFrom(offset: number): number {
    const e = this.entries[offset - this.base];
    return e === undefined ? 0 : this.cumEnd - e.cum;
  }
  /** The fewest leading entries to drop so that at most `w` weight stays. */
  dropFor(w: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumEnd - (this.entries[mid] as Entry).cum <= w) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

interface ActiveSub {
  group: string;
  topics: readonly string[];
  eachRecord: SubscribeOptions['eachRecord'];
  eachBatch: SubscribeOptions['eachBatch'];
  maxBatch: number;
  stopping: boolean;
  idle: boolean;
  wake: (() => void) | null;
  done: Promise<void>;
}

interface GroupState {
  cursors: Map<string, number>;
  active: ActiveSub | null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class MemoryTransport implements Transport {
  readonly kind = 'memory' as const;
  private readonly log: Logger;
  private readonly retain: number;
  private readonly maxRetained: number;
  private readonly highWater: number;
  private readonly redeliveryDelayMs: number;
  private readonly logs = new Map<string, TopicLog>();
  private readonly groups = new Map<string, GroupState>();
  private readonly current = new AsyncLocalStorage<ActiveSub>();
  private progressWaiters: (() => void)[] = [];
  private seq = 0;
  private isConnected = false;

  constructor(opts: MemoryTransportOptions) {
    this.log = opts.logger.child({ component: 'memory-transport' });
    this.retain = opts.retainMessages ?? 10_000;
    this.maxRetained = Math.max(this.retain, opts.maxRetainedMessages ?? 200_000);
    this.highWater = opts.highWaterMark ?? 10_000;
    this.redeliveryDelayMs = opts.redeliveryDelayMs ?? 500;
  }

  async start(topics: readonly string[]): Promise<void> {
    for (const t of topics) this.topic(t);
    this.isConnected = true;
  }

  connected(): boolean {
    return this.isConnected;
  }

  async send(topic: string, records: readonly RawRecord[]): Promise<void> {
    if (!this.isConnected) throw new Error('in-process bus is not started');
    const log = this.topic(topic);
    const now = Date.now();
    for (const r of records) {
      const value = r.value === null ? null : Buffer.from(r.value); // a copy: the producer may reuse its buffer
      log.entries.push({ seq: this.seq++, offset: log.end, cum: log.cumEnd++, key: r.key, value, message: undefined, headers: { ...(r.headers ?? {}) }, ts: now });
    }
    await this.appended(topic, log);
  }

  async sendValidated(topic: string, records: readonly ValidatedRecord[]): Promise<void> {
    if (!this.isConnected) throw new Error('in-process bus is not started');
    const log = this.topic(topic);
    const now = Date.now();
    // r.message is the bus's private copy (validatedCopy): kept as is, copied again for each delivery.
    for (const r of records) {
      const cum = log.cumEnd;
      log.cumEnd += Math.max(1, r.weight ?? 1);
      log.entries.push({ seq: this.seq++, offset: log.end, cum, key: r.key, value: null, message: r.message, headers: NO_HEADERS, ts: now });
    }
    await this.appended(topic, log);
  }

  private async appended(topic: string, log: TopicLog): Promise<void> {
    for (const g of this.groups.values()) {
      const s = g.active;
      if (s && s.topics.includes(topic)) {
        this.reportLag(s, topic);
        s.wake?.();
      }
    }
    this.trim(topic, log);
    await this.backpressure(topic);
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    if (!this.isConnected) throw new Error('in-process bus is not started');
    let g = this.groups.get(opts.group);
    if (!g) {
      g = { cursors: new Map(), active: null };
      this.groups.set(opts.group, g);
    }
    if (g.active) throw new Error(`consumer group ${opts.group} already has a consumer on the in-process bus (one consumer per group)`);
    if (!opts.eachRecord === !opts.eachBatch) throw new Error('subscribe: give exactly one of eachRecord and eachBatch');
    for (const t of opts.topics) {
      const log = this.topic(t);
      if (!g.cursors.has(t)) g.cursors.set(t, opts.fromBeginning ? log.base : log.end);
    }
    const sub: ActiveSub = {
      group: opts.group,
      topics: [...opts.topics],
      eachRecord: opts.eachRecord,
      eachBatch: opts.eachBatch,
      maxBatch: Math.max(1, opts.maxBatch ?? 5000),
      stopping: false,
      idle: false,
      wake: null,
      done: Promise.resolve(),
    };
    g.active = sub;
    sub.done = this.loop(sub, g);
    const state = g;
    return {
      group: opts.group,
      stop: async () => {
        sub.stopping = true;
        sub.wake?.();
        await sub.done;
        if (state.active === sub) state.active = null;
        this.progress();
      },
    };
  }

  async drain(): Promise<void> {
    for (;;) {
      let busy = false;
      for (const g of this.groups.values()) {
        const s = g.active;
        if (s && !s.stopping && (!s.idle || this.next(s, g) !== null)) busy = true;
      }
      if (!busy) return;
      await new Promise<void>((r) => this.progressWaiters.push(r));
    }
  }

  async close(): Promise<void> {
    const subs: ActiveSub[] = [];
    for (const g of this.groups.values()) if (g.active) subs.push(g.active);
    for (const s of subs) {
      s.stopping = true;
      s.wake?.();
    }
    await Promise.all(subs.map((s) => s.done));
    for (const g of this.groups.values()) g.active = null;
    this.isConnected = false;
    this.progress();
  }

  /** Records of `topic` not yet processed by `group` (tests, lag). */
  lag(group: string, topic: string): number {
    const g = this.groups.get(group);
    const log = this.logs.get(topic);
    if (!g || !log) return 0;
    return log.end - Math.max(log.base, g.cursors.get(topic) ?? log.end);
  }

  private topic(name: string): TopicLog {
    let log = this.logs.get(name);
    if (!log) {
      log = new TopicLog();
      this.logs.set(name, log);
    }
    return log;
  }

  private async loop(sub: ActiveSub, g: GroupState): Promise<void> {
    while (!sub.stopping) {
      const batch = this.nextBatch(sub, g, sub.eachBatch ? sub.maxBatch : 1);
      if (batch.length === 0) {
        sub.idle = true;
        this.progress();
        await new Promise<void>((r) => {
          sub.wake = () => {
            sub.wake = null;
            r();
          };
        });
        continue;
      }
      sub.idle = false;
      const deliveries = batch.map(({ topic, entry }) => this.delivery(topic, entry));
      try {
        if (sub.eachBatch) {
          const each = sub.eachBatch;
          await this.current.run(sub, () => each(deliveries));
        } else {
          const each = sub.eachRecord as (r: RawDelivery) => Promise<void>;
          await this.current.run(sub, () => each(deliveries[0] as RawDelivery));
        }
        // Commit: past the last record of each topic in the batch.
        const touched = new Set<string>();
        for (const { topic, entry } of batch) {
          g.cursors.set(topic, entry.offset + 1);
          touched.add(topic);
        }
        for (const t of touched) this.reportLag(sub, t);
      } catch (err) {
        const first = batch[0] as { topic: string; entry: Entry };
        this.log.error({ err, group: sub.group, topic: first.topic, offset: first.entry.offset, records: batch.length }, 'records not processed; redelivering');
        await sleep(this.redeliveryDelayMs);
      }
      this.progress();
    }
    sub.idle = true;
  }

  private delivery(topic: string, entry: Entry): RawDelivery {
    const d: RawDelivery = {
      topic,
      partition: 0,
      offset: String(entry.offset),
      key: entry.key,
      value: entry.value,
      headers: entry.headers === NO_HEADERS ? {} : entry.headers,
      timestamp_ms: entry.ts,
    };
    // Each delivery gets its own copy: the stored message stays the one that was validated.
    if (entry.message !== undefined) d.message = copyMessage(entry.message);
    return d;
  }

  /** Up to `max` of the group's next records across its topics, in publish order (not committed). */
  private nextBatch(sub: ActiveSub, g: GroupState, max: number): { topic: string; entry: Entry }[] {
    const out: { topic: string; entry: Entry }[] = [];
    if (sub.topics.length === 1) {
      const t = sub.topics[0] as string;
      const first = this.next(sub, g);
      if (first === null) return out;
      const log = this.topic(t);
      const from = first.entry.offset - log.base;
      const to = Math.min(log.entries.length, from + max);
      for (let i = from; i < to; i++) out.push({ topic: t, entry: log.entries[i] as Entry });
      return out;
    }
    // Several topics: merge by publish sequence from local cursors.
    if (this.next(sub, g) === null) return out; // also moves cursors that fell behind retention
    const pos = new Map<string, number>();
    for (const t of sub.topics) pos.set(t, g.cursors.get(t) as number);
    while (out.length < max) {
      let best: { topic: string; entry: Entry } | null = null;
      for (const t of sub.topics) {
        const log = this.topic(t);
        const entry = log.entries[(pos.get(t) as number) - log.base];
        if (entry && (best === null || entry.seq < best.entry.seq)) best = { topic: t, entry };
      }
      if (best === null) break;
      out.push(best);
      pos.set(best.topic, best.entry.offset + 1);
    }
    return out;
  }

  /** The group's next record across its topics, in publish order. */
  private next(sub: ActiveSub, g: GroupState): { topic: string; entry: Entry } | null {
    let best: { topic: string; entry: Entry } | null = null;
    for (const t of sub.topics) {
      const log = this.topic(t);
      let cursor = g.cursors.get(t) ?? log.end;
      if (cursor < log.base) {
        this.log.warn({ group: sub.group, topic: t, lost: log.base - cursor }, 'consumer group fell behind retention; oldest records lost');
        cursor = log.base;
        g.cursors.set(t, cursor);
      }
      const entry = log.entries[cursor - log.base];
      if (entry && (best === null || entry.seq < best.entry.seq)) best = { topic: t, entry };
    }
    return best;
  }

  private reportLag(sub: ActiveSub, topic: string): void {
    consumerLag().set({ topic, group: sub.group }, this.lag(sub.group, topic));
  }

  /** Weight of `topic`'s records not yet processed by `group` (backpressure counts this). */
  private weightedLag(group: string, topic: string): number {
    const g = this.groups.get(group);
    const log = this.logs.get(topic);
    if (!g || !log) return 0;
    return log.weightFrom(Math.max(log.base, g.cursors.get(topic) ?? log.end));
  }

  private trim(name: string, log: TopicLog): void {
    if (log.weightFrom(log.base) <= this.retain + 1024) return; // trim in chunks, not per record
    let minCursor = log.end;
    for (const g of this.groups.values()) {
      const c = g.cursors.get(name);
      if (c !== undefined) minCursor = Math.min(minCursor, c);
    }
    // Keep at most `retain` weight of what every group consumed, and at most `maxRetained` in all.
    let drop = Math.min(log.dropFor(this.retain), Math.max(0, minCursor - log.base));
    drop = Math.max(drop, log.dropFor(this.maxRetained));
    if (drop <= 0) return;
    log.entries.splice(0, drop);
    log.base += drop;
  }

  private async backpressure(topic: string): Promise<void> {
    const self = this.current.getStore();
    for (;;) {
      let wait = false;
      for (const g of this.groups.values()) {
        const s = g.active;
        if (s && s !== self && !s.stopping && s.topics.includes(topic) && this.weightedLag(s.group, topic) > this.highWater) wait = true;
      }
      if (!wait || !this.isConnected) return;
      await new Promise<void>((r) => this.progressWaiters.push(r));
    }
  }

  private progress(): void {
    const ws = this.progressWaiters;
    this.progressWaiters = [];
    for (const w of ws) w();
  }
}
