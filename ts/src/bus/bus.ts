/**
 * The bus services talk to: typed publish and consume over a Transport (Kafka
 * or in-process). Every message is validated against its topic's schema once
 * on its way: on Kafka, where it enters a consumer (decoded from bytes); on the
 * in-process transport, in publish, which hands the transport a private,
 * validated copy that consumers receive copies of (see memory.ts); raw bytes
 * (publishRaw) are decoded and validated at the consumer on both. An invalid
 * payload, or one whose handler keeps failing after bounded retries, goes to
 * `dlq.<topic>` with its reason and is counted (unless the transport lost its
 * broker meanwhile: then it is delivered again, not dead-lettered). The consumer keeps running and
 * nothing is dropped silently.
 *
 * Consumers take one message per handler call (`consume`) or batches
 * (`consumeBatch`: what the transport has ready, up to `maxBatch`, in order per
 * key; offsets committed after the handler resolved for the whole batch).
 */
import type { Logger } from 'pino';
import { Topics, DeadLetter, dlqTopic, type TopicKey, type MessageOf, type DeadLetter as DeadLetterMsg } from '../contracts/messages.ts';
import { decode, encode, validate, validatedCopy, type Decoded } from '../contracts/codec.ts';
import { makeDeadLetter, reasonKind } from './dead-letter.ts';
import { changelogTopicNames } from './changelog-names.ts';
import type { RawDelivery, RawRecord, Subscription, Transport, ValidatedRecord } from './transport.ts';
import { deadLetters, handlerRetries, messagesIn, messagesOut, messagesProcessed, messagesRejected } from '../ops/metrics.ts';

export type { Subscription } from './transport.ts';

/** Where a message came from. */
export interface MessageMeta<K extends TopicKey = TopicKey> {
  topic: K;
  /** The stream name, e.g. `features.technical`. */
  topicName: string;
  partition: number;
  offset: string;
  key: string | null;
  timestamp_ms: number;
}

export interface ConsumeOptions<K extends TopicKey> {
  /** Consumer group: each group gets every message; a restarted group resumes where it committed. */
  group: string;
  topics: readonly K[];
  /**
   * Where a group starts the first time it subscribes: the earliest retained
   * message (true) or the end (false, default). The start is fixed then: a
   * restarted group resumes at its committed position either way.
   */
  fromBeginning?: boolean;
  /** Resolve when the message is processed; its offset is committed only then. Throwing triggers retries. */
  handler: (msg: MessageOf<K>, meta: MessageMeta<K>) => Promise<void> | void;
  /** Retries after the first failed attempt before dead-lettering (default: the bus's). */
  retries?: number;
  /** First retry delay; doubles each time, capped at 5 s (default: the bus's). */
  retryBaseMs?: number;
  /** Kafka: the partitions assigned at each rebalance, paused until this resolves (see SubscribeOptions.onAssign). */
  onAssign?: (assigned: Map<string, number[]>) => Promise<void>;
}

export interface BatchConsumeOptions<K extends TopicKey> {
  /** Consumer group (as in ConsumeOptions). */
  group: string;
  topics: readonly K[];
  fromBeginning?: boolean;
  /**
   * The valid messages of a batch, in order per key, with their metas (same
   * index). Resolve when all are processed: the batch's offsets are committed
   * only then. Throwing retries the batch (bounded, with backoff); if it keeps
   * failing, each message is retried alone, so only a message that fails by
   * itself is dead-lettered. The handler must therefore be idempotent (as
   * at-least-once delivery requires anyway).
   */
  handler: (msgs: MessageOf<K>[], metas: MessageMeta<K>[]) => Promise<void> | void;
  /** Most messages per handler call (default 5000). */
  maxBatch?: number;
  retries?: number;
  retryBaseMs?: number;
  /** Kafka: the partitions assigned at each rebalance, paused until this resolves (see SubscribeOptions.onAssign). */
  onAssign?: (assigned: Map<string, number[]>) => Promise<void>;
}

export interface DeadLetterConsumeOptions {
  group: string;
  /** The streams whose dead letters to read. */
  topics: readonly TopicKey[];
  fromBeginning?: boolean;
  handler: (dl: DeadLetterMsg, meta: Omit<MessageMeta, 'topic'>) => Promise<void> | void;
}

export interface BusOptions {
  logger: Logger;
  /** Default handler retries (after the first attempt). */
  retries?: number;
  retryBaseMs?: number;
  /** Messages per transport send call. */
  sendChunk?: number;
}

/** Every stream of DESIGN.md, its dead-letter stream, and the state changelogs (compacted on Kafka). */
export function allTopicNames(): string[] {
  const names = Object.values(Topics).map((t) => t.name);
  return [...names, ...names.map(dlqTopic), ...changelogTopicNames()];
}

const keyByName = new Map<string, TopicKey>((Object.keys(Topics) as TopicKey[]).map((k) => [Topics[k].name, k]));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Most bytes of encoded records per transport send call (Bus.publish). */
const SEND_BYTES = 4 * 1024 * 1024;
const recordBytes = (r: RawRecord): number => (r.value === null ? 0 : typeof r.value === 'string' ? Buffer.byteLength(r.value) : r.value.length) + (r.key?.length ?? 0);

/**
 * A delivered record as a message of its topic: bytes are decoded and
 * validated; a `message` record (in-process transport) is the copy of a value
 * that passed the schema in publish, taken as is (validated once, not twice).
 */
function decodeDelivery<K extends TopicKey>(topic: K, rec: RawDelivery): Decoded<MessageOf<K>> {
  if (rec.message !== undefined) return { ok: true, value: rec.message as MessageOf<K> };
  return decode(topic, rec.value);
}

function countProcessed(metas: readonly MessageMeta[], group: string): void {
  if (metas.length === 1) {
    messagesProcessed().inc({ topic: (metas[0] as MessageMeta).topicName, group });
    return;
  }
  const by = new Map<string, number>();
  for (const m of metas) by.set(m.topicName, (by.get(m.topicName) ?? 0) + 1);
  for (const [t, n] of by) messagesProcessed().inc({ topic: t, group }, n);
}

function metaOf<K extends TopicKey>(topic: K, rec: RawDelivery): MessageMeta<K> {
  return { topic, topicName: rec.topic, partition: rec.partition, offset: rec.offset, key: rec.key, timestamp_ms: rec.timestamp_ms };
}

/**
 * Runs `run` until it resolves, retrying at most `retries` times with
 * exponential backoff (base `baseMs`, capped at 5 s; `onRetry` is told before
 * each wait). Returns null on success, else the error of the last attempt.
 */
async function withRetries(
  run: () => void | Promise<void>,
  retries: number,
  baseMs: number,
  onRetry: (err: Error, attempt: number, delayMs: number) => void,
): Promise<Error | null> {
  for (let n = 0; ; n++) {
    try {
      await run();
      return null;
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (n >= retries) return err;
      const delay = Math.min(5000, baseMs * 2 ** n);
      onRetry(err, n + 1, delay);
      await sleep(delay);
    }
  }
}

export class Bus {
  private readonly log: Logger;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly sendChunk: number;
  private readonly subs = new Set<Subscription>();
  private started = false;

  constructor(
    readonly transport: Transport,
    opts: BusOptions,
  ) {
    this.log = opts.logger.child({ component: 'bus', bus: transport.kind });
    this.retries = opts.retries ?? 3;
    this.retryBaseMs = opts.retryBaseMs ?? 100;
    this.sendChunk = opts.sendChunk ?? 1000;
  }

  get kind(): Transport['kind'] {
    return this.transport.kind;
  }

  /** Connect and create every topic and its dlq (idempotent). */
  async start(): Promise<void> {
    if (this.started) return;
    await this.transport.start(allTopicNames());
    this.started = true;
    this.log.info({ topics: allTopicNames().length }, 'bus connected');
  }

  /** Connected and usable (for /readyz). */
  isReady(): boolean {
    return this.started && this.transport.connected();
  }

  /**
   * Validate, encode and publish messages, keyed per Topics[...].key so each
   * pair stays ordered. Throws (publishing nothing) if any message is invalid.
   */
  async publish<K extends TopicKey>(topic: K, messages: readonly MessageOf<K>[]): Promise<void> {
    if (messages.length === 0) return;
    const name = Topics[topic].name;
    const sendValidated = this.transport.sendValidated?.bind(this.transport);
    if (sendValidated) {
      // In-process: validate a private copy of each message; the transport carries those copies (no bytes).
      const weigh = Topics[topic].weight as ((m: MessageOf<K>) => number) | undefined;
      const records: ValidatedRecord[] = messages.map((m) => validatedCopy(topic, m));
      if (weigh) {
        for (const r of records) {
          const w = weigh(r.message as MessageOf<K>);
          if (w !== 1) r.weight = w;
        }
      }
      for (let i = 0; i < records.length; i += this.sendChunk) {
        const chunk = records.slice(i, i + this.sendChunk);
        await sendValidated(name, chunk);
        messagesOut().inc({ topic: name }, chunk.length);
      }
      return;
    }
    const records: RawRecord[] = messages.map((m) => encode(topic, m));
    // Chunks of at most sendChunk records and SEND_BYTES bytes (a trade batch is up to ~256 KiB: a
    // thousand of them in one request would pass the broker's request and message size limits).
    for (let i = 0; i < records.length; ) {
      let j = i;
      let bytes = 0;
      while (j < records.length && j - i < this.sendChunk) {
        const b = recordBytes(records[j] as RawRecord);
        if (j > i && bytes + b > SEND_BYTES) break;
        bytes += b;
        j++;
      }
      const chunk = records.slice(i, j);
      await this.transport.send(name, chunk);
      messagesOut().inc({ topic: name }, chunk.length);
      i = j;
    }
  }

  /** Publish raw bytes to a stream by name, unvalidated (replay tools, tests). */
  async publishRaw(topicName: string, records: readonly RawRecord[]): Promise<void> {
    await this.transport.send(topicName, records);
    messagesOut().inc({ topic: topicName }, records.length);
  }

  /** Consume validated messages of one or more streams. */
  async consume<K extends TopicKey>(opts: ConsumeOptions<K>): Promise<Subscription> {
    const { group, handler } = opts;
    const retries = opts.retries ?? this.retries;
    const base = opts.retryBaseMs ?? this.retryBaseMs;
    const log = this.log.child({ group });
    const names = opts.topics.map((k) => Topics[k].name);

    const eachRecord = async (rec: RawDelivery): Promise<void> => {
      const topic = keyByName.get(rec.topic) as K | undefined;
      if (topic === undefined) throw new Error(`bug: record from unsubscribed topic ${rec.topic}`);
      messagesIn().inc({ topic: rec.topic, group });
      const decoded = decodeDelivery(topic, rec);
      if (!decoded.ok) {
        await this.reject(rec, decoded.reason, group, log);
        return;
      }
      const meta = metaOf(topic, rec);
      const err = await withRetries(() => handler(decoded.value as MessageOf<K>, meta), retries, base, (e, attempt, delay) => {
        handlerRetries().inc({ topic: rec.topic, group });
        log.warn({ err: e, topic: rec.topic, offset: rec.offset, attempt, delay_ms: delay }, 'handler failed, retrying');
      });
      if (err === null) messagesProcessed().inc({ topic: rec.topic, group });
      else if (!this.transport.connected()) throw this.away(err, log);
      else await this.reject(rec, `handler: ${err.message} (after ${retries + 1} attempts)`, group, log);
    };

    const sub = await this.transport.subscribe({
      group,
      topics: names,
      fromBeginning: opts.fromBeginning ?? false,
      eachRecord,
      ...(opts.onAssign ? { onAssign: opts.onAssign } : {}),
    });
    return this.track(sub);
  }

  /** Consume validated messages in batches (see BatchConsumeOptions). */
  async consumeBatch<K extends TopicKey>(opts: BatchConsumeOptions<K>): Promise<Subscription> {
    const { group, handler } = opts;
    const retries = opts.retries ?? this.retries;
    const base = opts.retryBaseMs ?? this.retryBaseMs;
    const log = this.log.child({ group });
    const names = opts.topics.map((k) => Topics[k].name);

    /** Run the handler on messages with bounded retries; the error of the last attempt, or null. */
    const attempt = (msgs: MessageOf<K>[], metas: MessageMeta<K>[]): Promise<Error | null> =>
      withRetries(() => handler(msgs, metas), retries, base, (err, n, delay) => {
        for (const m of metas) handlerRetries().inc({ topic: m.topicName, group });
        log.warn({ err, topic: metas[0]?.topicName, offset: metas[0]?.offset, messages: msgs.length, attempt: n, delay_ms: delay }, 'batch handler failed, retrying');
      });

    const eachBatch = async (recs: RawDelivery[]): Promise<void> => {
      const msgs: MessageOf<K>[] = [];
      const metas: MessageMeta<K>[] = [];
      const raws: RawDelivery[] = [];
      const inByTopic = new Map<string, number>();
      for (const rec of recs) {
        const topic = keyByName.get(rec.topic) as K | undefined;
        if (topic === undefined) throw new Error(`bug: record from unsubscribed topic ${rec.topic}`);
        inByTopic.set(rec.topic, (inByTopic.get(rec.topic) ?? 0) + 1);
        const decoded = decodeDelivery(topic, rec);
        if (!decoded.ok) {
          await this.reject(rec, decoded.reason, group, log);
          continue;
        }
        msgs.push(decoded.value as MessageOf<K>);
        metas.push(metaOf(topic, rec));
        raws.push(rec);
      }
      for (const [t, n] of inByTopic) messagesIn().inc({ topic: t, group }, n);
      if (msgs.length === 0) return;
      const err = await attempt(msgs, metas);
      if (err === null) {
        countProcessed(metas, group);
        return;
      }
      if (!this.transport.connected()) throw this.away(err, log);
      // The batch keeps failing: each message alone, so only the failing ones are dead-lettered.
      log.warn({ err, messages: msgs.length }, 'batch keeps failing; processing its messages one by one');
      for (let i = 0; i < msgs.length; i++) {
        const meta = metas[i] as MessageMeta<K>;
        const e = msgs.length === 1 ? err : await attempt([msgs[i] as MessageOf<K>], [meta]);
        if (e === null) countProcessed([meta], group);
        else if (!this.transport.connected()) throw this.away(e, log);
        else await this.reject(raws[i] as RawDelivery, `handler: ${e.message} (after ${retries + 1} attempts)`, group, log);
      }
    };

    const sub = await this.transport.subscribe({
      group,
      topics: names,
      fromBeginning: opts.fromBeginning ?? false,
      eachBatch,
      maxBatch: opts.maxBatch ?? 5000,
      ...(opts.onAssign ? { onAssign: opts.onAssign } : {}),
    });
    return this.track(sub);
  }

  /** Consume the dead letters of some streams (monitoring, tests). Invalid entries are logged and skipped. */
  async consumeDeadLetters(opts: DeadLetterConsumeOptions): Promise<Subscription> {
    const log = this.log.child({ group: opts.group });
    const sub = await this.transport.subscribe({
      group: opts.group,
      topics: opts.topics.map((k) => dlqTopic(Topics[k].name)),
      fromBeginning: opts.fromBeginning ?? false,
      eachRecord: async (rec) => {
        messagesIn().inc({ topic: rec.topic, group: opts.group });
        let parsed: unknown;
        try {
          parsed = JSON.parse(rec.value?.toString('utf8') ?? 'null');
        } catch {
          parsed = undefined;
        }
        const v = validate(DeadLetter, parsed);
        if (!v.ok) {
          messagesRejected().inc({ topic: rec.topic, group: opts.group, reason_kind: 'schema' });
          log.error({ topic: rec.topic, offset: rec.offset, reason: v.reason }, 'invalid dead letter skipped');
          return;
        }
        await opts.handler(v.value, {
          topicName: rec.topic,
          partition: rec.partition,
          offset: rec.offset,
          key: rec.key,
          timestamp_ms: rec.timestamp_ms,
        });
        messagesProcessed().inc({ topic: rec.topic, group: opts.group });
      },
    });
    return this.track(sub);
  }

  /**
   * Dead-letter payloads rejected outside a consumer (a source's bad frame, a
   * late trade, an unscorable news item): each goes to dlq.<topic> with its
   * reason and is counted. Retries the send; if it keeps failing, throws.
   */
  async deadLetter(
    topicName: string,
    entries: readonly { key: string | null; payload: Buffer | string | null; reason: string; source: string }[],
  ): Promise<void> {
    if (entries.length === 0) return;
    const dls = entries.map((e) => makeDeadLetter({ topic: topicName, payload: e.payload, reason: e.reason, source: e.source }));
    const records = dls.map((dl, i) => ({ key: entries[i]?.key ?? null, value: Buffer.from(JSON.stringify(dl)) }));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.transport.send(dlqTopic(topicName), records);
        break;
      } catch (e) {
        if (attempt >= 5) throw e;
        this.log.warn({ err: e, topic: topicName }, 'dead-letter send failed, retrying');
        await sleep(Math.min(5000, 200 * 2 ** attempt));
      }
    }
    for (const dl of dls) deadLetters().inc({ topic: topicName, reason_kind: reasonKind(dl.reason) });
  }

  /**
   * A handler failed while the transport is not connected (the broker away: its
   * publishes fail): not the message's fault, so it is not dead-lettered. The
   * error goes up to the transport, which delivers the message again from the
   * last committed offset once the broker is back.
   */
  private away(err: Error, log: Logger): Error {
    log.warn({ err: err.message }, 'handler failed while the broker is away: not dead-lettered, delivered again from the last commit');
    return new Error(`broker away: ${err.message}`, { cause: err });
  }

  /** Send a consumed record to dlq.<topic> and count it; throws if the send keeps failing, so the offset is not committed. */
  private async reject(rec: RawDelivery, reason: string, group: string, log: Logger): Promise<void> {
    const payload = rec.message !== undefined ? JSON.stringify(rec.message) : rec.value;
    await this.deadLetter(rec.topic, [{ key: rec.key, payload, reason, source: group }]);
    const kind = reasonKind(reason);
    messagesRejected().inc({ topic: rec.topic, group, reason_kind: kind });
    log.warn({ topic: rec.topic, offset: rec.offset, key: rec.key, reason, reason_kind: kind }, 'message dead-lettered');
  }

  private track(sub: Subscription): Subscription {
    this.subs.add(sub);
    return {
      group: sub.group,
      stop: async () => {
        this.subs.delete(sub);
        await sub.stop();
      },
    };
  }

  /**
   * Resolve when every consumer has processed everything published so far,
   * including what handlers published meanwhile (in-process bus only: tests
   * and the embedded mode use it to await "all delivered").
   */
  async drain(): Promise<void> {
    if (!this.transport.drain) throw new Error(`drain() is not supported by the ${this.transport.kind} bus`);
    await this.transport.drain();
  }

  /** Stop every consumer (in-flight messages finish and are committed). */
  async stopConsumers(): Promise<void> {
    const subs = [...this.subs];
    this.subs.clear();
    await Promise.all(subs.map((s) => s.stop()));
  }

  /** Stop consumers, then disconnect. */
  async close(): Promise<void> {
    await this.stopConsumers();
    await this.transport.close();
    this.started = false;
    this.log.info('bus closed');
  }
}
