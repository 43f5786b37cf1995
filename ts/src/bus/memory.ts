/**
 * The in-process transport (embedded mode, unit tests). It carries bytes like
 * Kafka, so validation is the same in both modes.
 *
 * Model: one append-only log per topic (a single partition, so every key stays
 * ordered); each consumer group keeps a committed cursor per topic, advanced
 * only after its handler resolved. A stopped group resumes at its cursor, a new
 * group starts at the end or, with fromBeginning, at the earliest retained
 * record. One active consumer per group. Each group delivers sequentially in
 * publish order across its topics.
 *
 * Memory is bounded: records every group has consumed are trimmed once a topic
 * holds more than `retainMessages`; `send` waits while an active consumer of
 * the topic lags more than `highWaterMark` (backpressure; never on its own
 * group, so a handler may publish to a topic it reads). A stopped group that
 * falls more than `maxRetainedMessages` behind loses the oldest records, like
 * Kafka retention, with a warning.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import type { RawDelivery, RawRecord, SubscribeOptions, Subscription, Transport } from './transport.ts';
import { consumerLag } from '../ops/metrics.ts';

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
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  ts: number;
}

class TopicLog {
  entries: Entry[] = [];
  /** Offset of entries[0]. */
  base = 0;
  get end(): number {
    return this.base + this.entries.length;
  }
}

interface ActiveSub {
  group: string;
  topics: readonly string[];
  eachRecord: SubscribeOptions['eachRecord'];
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
      log.entries.push({ seq: this.seq++, offset: log.end, key: r.key, value, headers: { ...(r.headers ?? {}) }, ts: now });
    }
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
    for (const t of opts.topics) {
      const log = this.topic(t);
      if (!g.cursors.has(t)) g.cursors.set(t, opts.fromBeginning ? log.base : log.end);
    }
    const sub: ActiveSub = {
      group: opts.group,
      topics: [...opts.topics],
      eachRecord: opts.eachRecord,
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
      const next = this.next(sub, g);
      if (next === null) {
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
      const { topic, entry } = next;
      const delivery: RawDelivery = {
        topic,
        partition: 0,
        offset: String(entry.offset),
        key: entry.key,
        value: entry.value,
        headers: entry.headers,
        timestamp_ms: entry.ts,
      };
      try {
        await this.current.run(sub, () => sub.eachRecord(delivery));
        g.cursors.set(topic, entry.offset + 1);
        this.reportLag(sub, topic);
      } catch (err) {
        this.log.error({ err, group: sub.group, topic, offset: entry.offset }, 'record not processed; redelivering');
        await sleep(this.redeliveryDelayMs);
      }
      this.progress();
    }
    sub.idle = true;
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

  private trim(name: string, log: TopicLog): void {
    if (log.entries.length <= this.retain + 1024) return; // trim in chunks, not per record
    let minCursor = log.end;
    for (const g of this.groups.values()) {
      const c = g.cursors.get(name);
      if (c !== undefined) minCursor = Math.min(minCursor, c);
    }
    let drop = Math.min(log.entries.length - this.retain, Math.max(0, minCursor - log.base));
    if (log.entries.length - drop > this.maxRetained) drop = log.entries.length - this.maxRetained;
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
        if (s && s !== self && !s.stopping && s.topics.includes(topic) && this.lag(s.group, topic) > this.highWater) wait = true;
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
