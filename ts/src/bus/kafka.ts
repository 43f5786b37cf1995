/**
 * The Kafka transport (kafkajs 2.2.4).
 *
 * - Topics (and their dlq.<topic>) are created on start with the configured
 *   partitions; creating an existing topic is a no-op.
 * - The producer sends with acks=all and one request in flight, and
 *   keys records (pair, coin, news id) with the Java-compatible partitioner, so
 *   each key stays in one partition, in order.
 * - A group's start is pinned when it first subscribes (see pinStartPositions).
 * - Consumers use eachBatch without auto-resolve: an offset is resolved only
 *   after the record's handler resolved (a batch consumer: after the handler
 *   of its chunk of the fetched batch resolved), and kafkajs commits resolved offsets
 *   (after each batch, every second, and on stop). A crash before a commit
 *   re-delivers: at least once, never lost.
 * - Consumer lag (end offset minus committed offset) is sampled periodically
 *   through the admin client into tickcast_bus_consumer_lag_messages.
 * - Broker away: a consumer whose requests keep failing crashes and kafkajs
 *   restarts it from the committed offsets (logged as a warning: nothing is
 *   skipped, what was not committed is delivered again); if kafkajs gives up
 *   on it (a non-retriable error), the transport starts a new consumer of the
 *   group after a backoff. `connected()` is false while the producer's last
 *   send failed or a consumer is crashed or has not fetched for a while.
 */
import { randomUUID } from 'node:crypto';
import { CompressionTypes, Kafka, Partitioners, logLevel, type Admin, type Consumer, type Producer, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import type { PartitionEnds, RawDelivery, RawRecord, SubscribeOptions, Subscription, Transport } from './transport.ts';
import { isChangelogTopic } from './changelog-names.ts';
import { consumerLag } from '../ops/metrics.ts';

export interface KafkaTransportOptions {
  logger: Logger;
  brokers: readonly string[];
  clientId: string;
  /** Partitions of topics created on start. */
  partitions: number;
  /** -1 = the broker's default. */
  replicationFactor: number;
  /** Prepended to every topic name and group id (isolates tests); default none. */
  topicPrefix?: string;
  /** How often consumer lag is sampled (ms). */
  lagIntervalMs?: number;
  /** Partitions of one consumer processed concurrently (order holds within a partition). Default 1. */
  partitionsConsumedConcurrently?: number;
  /** kafkajs connection timeouts and retries, for tests. */
  connectionTimeoutMs?: number;
  sessionTimeoutMs?: number;
  /** kafkajs' own log level (default warn; info shows group joins and assignments). */
  clientLogLevel?: 'warn' | 'info' | 'debug';
}

function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const fields = { kafkajs: namespace, ...extra };
      // kafkajs logs every retriable error response (coordinator loading, rebalancing) at
      // ERROR from its Connection layer; the operation is retried, so those are warnings.
      if (level === logLevel.ERROR && namespace !== 'Connection') logger.error(fields, message);
      else if (level === logLevel.ERROR) logger.warn(fields, message);
      else if (level === logLevel.WARN) logger.warn(fields, message);
      else if (level === logLevel.INFO) logger.info(fields, message);
      else logger.debug(fields, message);
    };
}

/** A metadata read retried a few times (leadership moves right after topic creation). */
async function retrying<T>(f: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await f();
    } catch (err) {
      if (i >= attempts || (err as { retriable?: boolean }).retriable === false) throw err;
      await new Promise((r) => setTimeout(r, 100 * 2 ** i));
    }
  }
}

/** A send still unanswered after this long: the broker is away (not ready). */
const SLOW_SEND_MS = 5000;
/** Fetch wait of a consumer whose partitions pause at each join (onAssign): the longest a resume waits for the next fetch. */
const PAUSED_FETCH_WAIT_MS = 500;
/** The longest close() waits for each client without state to hand over (changelog readers, producer, admin). */
const CLOSE_STEP_MS = 5000;

export class KafkaTransport implements Transport {
  readonly kind = 'kafka' as const;
  private readonly log: Logger;
  private readonly kafka: Kafka;
  private readonly prefix: string;
  private producer: Producer | null = null;
  private admin: Admin | null = null;
  private readonly subs = new Set<Subscription>();
  private isConnected = false;
  /** False after a send failed, until one succeeds. */
  private producerOk = true;
  /** Start times of the sends in flight: one taking longer than SLOW_SEND_MS means the broker is away (kafkajs is retrying). */
  private readonly sending = new Set<{ at: number }>();
  /** Per live subscription: is its consumer working (not crashed, fetching)? */
  private readonly consumerHealth = new Set<() => boolean>();
  /** Readers of topics read by partition (state changelogs), one per topic. */
  private readonly readers = new Map<string, PartitionReader>();

  constructor(private readonly opts: KafkaTransportOptions) {
    this.log = opts.logger.child({ component: 'kafka' });
    this.prefix = opts.topicPrefix ?? '';
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: [...opts.brokers],
      connectionTimeout: opts.connectionTimeoutMs ?? 3000,
      logLevel: { warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG }[opts.clientLogLevel ?? 'warn'],
      logCreator: kafkaLogCreator(this.log),
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
  }

  private phys(topic: string): string {
    return `${this.prefix}${topic}`;
  }

  private logical(physical: string): string {
    return physical.startsWith(this.prefix) ? physical.slice(this.prefix.length) : physical;
  }

  async start(topics: readonly string[]): Promise<void> {
    if (this.isConnected) return;
    const admin = this.kafka.admin();
    await admin.connect();
    this.admin = admin;
    await this.createTopics(topics);
    // One request in flight keeps each partition in send order across retries. Not
    // kafkajs' idempotent mode: it wants unbounded retries (a send could hang forever);
    // a duplicate from a retried send is absorbed by the natural-key writes downstream.
    const producer = this.kafka.producer({
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    producer.on(producer.events.DISCONNECT, () => {
      if (this.isConnected) this.log.warn('kafka producer disconnected');
    });
    await producer.connect();
    this.producer = producer;
    this.isConnected = true;
  }

  /** Create topics that do not exist yet; returns the names created. */
  async createTopics(topics: readonly string[]): Promise<string[]> {
    const admin = this.admin ?? this.kafka.admin();
    const own = admin !== this.admin;
    if (own) await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = topics.map((t) => this.phys(t)).filter((t) => !existing.has(t));
      if (missing.length > 0) {
        await admin.createTopics({
          // kafkajs' own wait fails on UNKNOWN_TOPIC_OR_PARTITION while metadata propagates; we wait below.
          waitForLeaders: false,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: this.opts.partitions,
            replicationFactor: this.opts.replicationFactor,
            // A state changelog keeps the latest record per key (compacted), never expires by age;
            // a pair's record can be large (its remembered trade ids): up to 16 MiB per batch. Segments
            // roll every 10 min and are cleaned at 10% dirty, so a restore reads at most about 10 min of
            // writes beyond the latest record per key (the active segment is never compacted).
            ...(isChangelogTopic(this.logical(topic))
              ? {
                  configEntries: [
                    { name: 'cleanup.policy', value: 'compact' },
                    { name: 'max.message.bytes', value: String(16 * 1024 * 1024) },
                    { name: 'segment.ms', value: '600000' },
                    { name: 'min.cleanable.dirty.ratio', value: '0.1' },
                  ],
                }
              : {}),
          })),
        });
        await this.waitForLeaders(admin, missing);
        this.log.info({ topics: missing, partitions: this.opts.partitions }, 'kafka topics created');
      }
      return missing;
    } finally {
      if (own) await admin.disconnect();
    }
  }

  /** Until every partition of the topics has a leader (bounded: 60 s). */
  private async waitForLeaders(admin: Admin, topics: readonly string[]): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (let delay = 50; ; delay = Math.min(1000, delay * 2)) {
      try {
        const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
        if (meta.length === topics.length && meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      if (Date.now() > deadline) throw new Error(`kafka topics have no leader after 60 s: ${topics.join(', ')}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  connected(): boolean {
    if (!this.isConnected || !this.producerOk) return false;
    const now = Date.now();
    for (const s of this.sending) if (now - s.at > SLOW_SEND_MS) return false;
    for (const ok of this.consumerHealth) if (!ok()) return false;
    return true;
  }

  async send(topic: string, records: readonly RawRecord[]): Promise<void> {
    if (!this.producer || !this.isConnected) throw new Error('kafka bus is not started');
    const inFlight = { at: Date.now() };
    this.sending.add(inFlight);
    try {
      await this.producer.send({
        topic: this.phys(topic),
        acks: -1,
        messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, ...(r.partition === undefined ? {} : { partition: r.partition }) })),
      });
    } catch (err) {
      if (this.producerOk) this.log.warn({ err: errorSummary(err), topic }, 'kafka send failed (broker away?): not ready until a send succeeds');
      this.producerOk = false;
      throw err;
    } finally {
      this.sending.delete(inFlight);
    }
    if (!this.producerOk) this.log.info({ topic }, 'kafka send works again');
    this.producerOk = true;
  }

  /**
   * Append records to one partition (gzip-compressed: state records repeat
   * themselves); resolves with the partition's end offset after them (the
   * offset the next record will get).
   */
  async sendToPartition(topic: string, partition: number, records: readonly RawRecord[]): Promise<string> {
    if (!this.producer || !this.isConnected) throw new Error('kafka bus is not started');
    if (records.length === 0) throw new Error('sendToPartition: no records');
    const meta = await this.producer.send({
      topic: this.phys(topic),
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, partition })),
    });
    const m = meta.find((x) => x.partition === partition);
    if (!m || m.baseOffset === undefined) throw new Error(`kafka send to ${topic}/${partition} returned no offset`);
    return (BigInt(m.baseOffset) + BigInt(records.length)).toString();
  }

  /** Per partition of a topic: the first retained offset and the end offset (the next to be written). */
  async partitionEnds(topic: string): Promise<PartitionEnds> {
    const admin = this.admin;
    if (!admin) throw new Error('kafka bus is not started');
    const offs = await retrying(() => admin.fetchTopicOffsets(this.phys(topic)));
    return new Map(offs.map((o) => [o.partition, { low: o.low, high: o.high }]));
  }

  /**
   * Read partitions of a topic from their first retained record to their end
   * as of the call (records written later are not waited for), in offset
   * order per partition, through one reader consumer per topic (its own
   * group, never committing, every partition paused but the ones being read).
   */
  async readPartitions(topic: string, partitions: readonly number[], onRecords: (records: RawDelivery[]) => void): Promise<PartitionEnds> {
    const reader = this.reader(topic);
    const ends = await this.partitionEnds(topic);
    const wanted = new Map([...ends].filter(([p]) => partitions.includes(p)));
    for (const p of partitions) if (!wanted.has(p)) throw new Error(`${topic} has no partition ${p} (it has ${ends.size})`);
    await reader.read(wanted, onRecords);
    return wanted;
  }

  private reader(topic: string): PartitionReader {
    let reader = this.readers.get(topic);
    if (!reader) {
      reader = new PartitionReader(this.kafka, this.phys(topic), topic, this.log.child({ reader: topic }));
      this.readers.set(topic, reader);
    }
    return reader;
  }

  /** Start the reader of a topic ahead of its first read (its group join then overlaps the consumer's). */
  async prepareReader(topic: string): Promise<void> {
    await this.reader(topic).prepare();
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    if (!this.isConnected) throw new Error('kafka bus is not started');
    if (!opts.eachRecord === !opts.eachBatch) throw new Error('subscribe: give exactly one of eachRecord and eachBatch');
    const groupId = `${this.prefix}${opts.group}`;
    const sessionTimeout = this.opts.sessionTimeoutMs ?? 30_000;
    const log = this.log.child({ group: opts.group });
    await this.pinStartPositions(groupId, opts.topics, opts.fromBeginning, log);
    let stopped = false;
    let consumer: Consumer | null = null;
    let crashed = false;
    let lastActivity = Date.now();
    let restartTimer: NodeJS.Timeout | null = null;
    /** No fetch, heartbeat or batch for this long while not crashed: stalled (the broker away). */
    const stallMs = Math.max(20_000, sessionTimeout);
    const health = () => !crashed && Date.now() - lastActivity < stallMs;

    /**
     * With onAssign: per partition (physical topic / partition), the restore a
     * batch of it must wait for; and the join generation seen, so an older
     * join's restore does not resume partitions a newer join paused.
     */
    const gates = new Map<string, Promise<void>>();
    let joins = 0;
    const onJoin = (c: Consumer, assignment: Record<string, number[]>): void => {
      if (!opts.onAssign) return;
      const join = ++joins;
      const physTopics = opts.topics.map((t) => this.phys(t));
      const assigned = new Map<string, number[]>();
      const pauses: { topic: string; partitions: number[] }[] = [];
      for (const t of physTopics) {
        const parts = [...(assignment[t] ?? [])].sort((a, b) => a - b);
        assigned.set(this.logical(t), parts);
        if (parts.length > 0) pauses.push({ topic: t, partitions: parts });
      }
      // Synchronously, inside kafkajs' join (before its first fetch of the new assignment).
      if (pauses.length > 0) c.pause(pauses);
      const run = async (): Promise<void> => {
        for (let delay = 500; ; delay = Math.min(10_000, delay * 2)) {
          if (stopped || join !== joins) return;
          try {
            await (opts.onAssign as NonNullable<SubscribeOptions['onAssign']>)(assigned);
            break;
          } catch (err) {
            log.warn({ err: errorSummary(err), retry_ms: delay }, 'preparing the assigned partitions failed (their state not restored); retrying, they stay paused');
            await new Promise((r) => setTimeout(r, delay));
          }
        }
        if (stopped || join !== joins) return;
        if (pauses.length > 0) c.resume(pauses);
      };
      const done = run();
      gates.clear();
      for (const p of pauses) for (const n of p.partitions) gates.set(`${p.topic}/${n}`, done);
    };

    const startConsumer = async (): Promise<void> => {
      const c: Consumer = this.kafka.consumer({
        groupId,
        allowAutoTopicCreation: false,
        sessionTimeout,
        heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 3)),
        // With onAssign the partitions are paused at each join: kafkajs then finds nothing to fetch and sleeps its
        // fetch wait (5 s by default) before it looks again, so the resume after the restore waited up to 5 s more
        // (monitor-kafka-es.test.ts: +5 s per monitor start). A short wait bounds that; the broker still answers a
        // fetch as soon as data arrives, an idle consumer just asks more often.
        ...(opts.onAssign ? { maxWaitTimeInMs: PAUSED_FETCH_WAIT_MS } : {}),
      });
      consumer = c;
      const alive = () => {
        lastActivity = Date.now();
        if (crashed) log.info('kafka consumer works again');
        crashed = false;
      };
      c.on(c.events.GROUP_JOIN, (e) => {
        alive();
        onJoin(c, e.payload.memberAssignment);
      });
      c.on(c.events.FETCH, alive);
      c.on(c.events.HEARTBEAT, alive);
      c.on(c.events.END_BATCH_PROCESS, alive);
      c.on(c.events.CRASH, (e) => {
        crashed = true;
        const err = errorSummary(e.payload.error);
        if (e.payload.restart) {
          log.warn({ err }, 'kafka consumer lost the broker; kafkajs restarts it from the committed offsets (nothing skipped: what was not committed is delivered again)');
          return;
        }
        if (stopped) return;
        log.error({ err }, 'kafka consumer stopped by kafkajs (non-retriable error); starting a new consumer of the group from its committed offsets');
        const again = (delayMs: number) => {
          restartTimer = setTimeout(() => {
            restartTimer = null;
            if (stopped) return;
            void (consumer ?? c)
              .disconnect()
              .catch(() => undefined)
              .then(() => (stopped ? undefined : startConsumer()))
              .catch((err2: unknown) => {
                log.warn({ err: errorSummary(err2), retry_ms: Math.min(10_000, delayMs * 2) }, 'starting a new kafka consumer failed; retrying');
                again(Math.min(10_000, delayMs * 2));
              });
          }, delayMs);
        };
        again(1000);
      });
      await c.connect();
      await c.subscribe({ topics: opts.topics.map((t) => this.phys(t)), fromBeginning: opts.fromBeginning });
      await c.run({
        autoCommit: true,
        autoCommitInterval: 1000,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 1,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }) => {
          const topic = this.logical(batch.topic);
          // A fetch that slipped through before its partition was paused waits for the partition's restore.
          const gate = gates.get(`${batch.topic}/${batch.partition}`);
          if (gate) await gate;
          if (!isRunning() || isStale()) return;
          const delivery = (message: (typeof batch.messages)[number]): RawDelivery => ({
            topic,
            partition: batch.partition,
            offset: message.offset,
            key: message.key === null ? null : message.key.toString('utf8'),
            value: message.value,
            headers: Object.fromEntries(
              Object.entries(message.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v === undefined ? '' : v.toString()]),
            ),
            timestamp_ms: Number(message.timestamp),
          });
          if (opts.eachBatch) {
            // The fetched records of one partition, in chunks; each chunk's offsets are resolved only after the handler resolved.
            const max = Math.max(1, opts.maxBatch ?? 5000);
            for (let i = 0; i < batch.messages.length; i += max) {
              if (!isRunning() || isStale()) break;
              const chunk = batch.messages.slice(i, i + max);
              await opts.eachBatch(chunk.map(delivery)); // throws → not resolved, kafkajs restarts from the last commit
              resolveOffset((chunk[chunk.length - 1] as (typeof batch.messages)[number]).offset);
              await commitOffsetsIfNecessary();
              await heartbeat();
            }
            return;
          }
          const eachRecord = opts.eachRecord as (r: RawDelivery) => Promise<void>;
          for (const message of batch.messages) {
            if (!isRunning() || isStale()) break;
            await eachRecord(delivery(message)); // throws → not resolved, kafkajs restarts from the last commit
            resolveOffset(message.offset);
            await commitOffsetsIfNecessary();
            await heartbeat();
          }
        },
      });
      lastActivity = Date.now();
    };
    await startConsumer();
    this.consumerHealth.add(health);

    let lagTimer: NodeJS.Timeout | null = null;
    const sampleLag = async () => {
      try {
        for (const [topic, lag] of await this.lag(opts.group, opts.topics)) consumerLag().set({ topic, group: opts.group }, lag);
      } catch (err) {
        log.debug({ err }, 'consumer lag sample failed');
      }
    };
    if ((this.opts.lagIntervalMs ?? 15_000) > 0) {
      lagTimer = setInterval(() => void sampleLag(), this.opts.lagIntervalMs ?? 15_000);
      lagTimer.unref();
    }

    const sub: Subscription = {
      group: opts.group,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        if (lagTimer) clearInterval(lagTimer);
        if (restartTimer) clearTimeout(restartTimer);
        this.subs.delete(sub);
        this.consumerHealth.delete(health);
        await (consumer as Consumer | null)?.disconnect(); // waits for the batch in flight, commits resolved offsets, leaves the group
      },
    };
    this.subs.add(sub);
    return sub;
  }

  /**
   * Give the group a committed position on every partition it has none for:
   * the log start (fromBeginning) or the log end. Without this Kafka decides at
   * the first fetch of each partition (auto.offset.reset), so a group that
   * started "at the end" and went down before it committed on a quiet
   * partition would skip what arrived there meanwhile. With it, a group's
   * start is fixed when it first subscribes, as on the in-process bus.
   * Needs the group to be empty; when other members are active they pinned it already.
   *
   * All topics at once: one short-lived member joins the group, commits the
   * start of every unpinned partition and leaves (kafkajs' admin.setOffsets
   * joins the group once per topic, seconds each: the monitor with its nine
   * dead-letter topics took ~46 s to start).
   */
  private async pinStartPositions(groupId: string, topics: readonly string[], fromBeginning: boolean, log: Logger): Promise<void> {
    const admin = this.admin;
    if (!admin) return;
    try {
      const committed = await retrying(() => admin.fetchOffsets({ groupId, topics: topics.map((t) => this.phys(t)) }));
      const commits: { topic: string; partition: number; offset: string }[] = [];
      for (const t of committed) {
        const missing = t.partitions.filter((p) => Number(p.offset) < 0);
        if (missing.length === 0) continue;
        const ends = await retrying(() => admin.fetchTopicOffsets(t.topic));
        for (const p of missing) {
          const e = ends.find((x) => x.partition === p.partition);
          commits.push({ topic: t.topic, partition: p.partition, offset: e ? (fromBeginning ? e.low : e.high) : '0' });
        }
      }
      if (commits.length === 0) return;
      const { groups } = await admin.describeGroups([groupId]);
      const state = groups[0]?.state ?? 'Dead';
      if (state !== 'Empty' && state !== 'Dead' && state !== 'Unknown') {
        log.debug({ state }, 'start positions not pinned: the group has active members (they pinned it)');
        return;
      }
      const sessionTimeout = this.opts.sessionTimeoutMs ?? 30_000;
      // Short fetch waits: leaving the group waits for the fetch in flight (5 s by default on quiet topics).
      const pinner = this.kafka.consumer({
        groupId,
        allowAutoTopicCreation: false,
        sessionTimeout,
        heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 3)),
        maxWaitTimeInMs: 50,
      });
      let joined!: () => void;
      const join = new Promise<void>((r) => (joined = r));
      pinner.on(pinner.events.GROUP_JOIN, () => joined());
      try {
        await pinner.connect();
        await pinner.subscribe({ topics: [...new Set(commits.map((c) => c.topic))], fromBeginning });
        // Never resolves an offset, never auto-commits: only the explicit commit below writes positions.
        await pinner.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async ({ pause }) => void pause() });
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([join, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no group join within 60 s')), 60_000)))]);
        clearTimeout(timer);
        await pinner.commitOffsets(commits);
      } finally {
        await pinner.disconnect();
      }
      log.info({ partitions: commits.length, topics: new Set(commits.map((c) => c.topic)).size, fromBeginning }, 'consumer group start positions pinned');
    } catch (err) {
      log.debug({ err }, 'start positions not pinned (group active?); Kafka decides on first fetch');
    }
  }

  /** Per logical topic: end offsets minus the group's committed offsets, summed over partitions. */
  async lag(group: string, topics: readonly string[]): Promise<Map<string, number>> {
    const groupId = `${this.prefix}${group}`;
    const admin = this.admin;
    const out = new Map<string, number>();
    if (!admin) return out;
    const committed = await retrying(() => admin.fetchOffsets({ groupId, topics: topics.map((t) => this.phys(t)) }));
    for (const t of committed) {
      const ends = await retrying(() => admin.fetchTopicOffsets(t.topic));
      let lag = 0;
      for (const p of ends) {
        const c = t.partitions.find((x) => x.partition === p.partition);
        const from = c && Number(c.offset) >= 0 ? Number(c.offset) : Number(p.low);
        lag += Math.max(0, Number(p.high) - from);
      }
      out.set(this.logical(t.topic), lag);
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subs].map((s) => s.stop()));
    // The changelog readers, the producer and the admin hold nothing to hand over once the subscriptions stopped (their
    // offsets committed, every send awaited), so each gets a bounded time: after a broker restart a kafkajs client can
    // sit in its reconnect backoff for tens of seconds, and a SIGTERM must still exit 0 within the shutdown timeout.
    await Promise.all([...this.readers.entries()].map(([topic, r]) => this.bounded(`changelog reader of ${topic}`, r.close())));
    this.readers.clear();
    this.isConnected = false;
    await this.bounded('producer', this.producer?.disconnect());
    await this.bounded('admin client', this.admin?.disconnect());
    this.producer = null;
    this.admin = null;
  }

  /** Waits for a client's disconnect at most CLOSE_STEP_MS; then logs and goes on (the process is about to exit). */
  private async bounded(what: string, p: Promise<void> | undefined): Promise<void> {
    if (!p) return;
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      p.then(
        () => false,
        (err: unknown) => (this.log.warn({ err: errorSummary(err) }, `kafka ${what}: disconnect failed`), false),
      ),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), CLOSE_STEP_MS))),
    ]);
    clearTimeout(timer);
    if (late) this.log.warn({ ms: CLOSE_STEP_MS }, `kafka ${what}: disconnect did not finish in time; closing without it`);
  }
}

/** An error's name and message (kafkajs errors carry their broker and cause; the stack is noise here). */
function errorSummary(err: unknown): { name: string; message: string; cause?: string } {
  const e = err as { name?: string; message?: string; cause?: { name?: string; message?: string } } | null;
  return {
    name: e?.name ?? 'Error',
    message: e?.message ?? String(err),
    ...(e?.cause ? { cause: `${e.cause.name ?? 'Error'}: ${e.cause.message ?? ''}` } : {}),
  };
}

interface ReadRequest {
  /** Offsets as numbers (Kafka's int64; a changelog stays far below 2^53). */
  low: number;
  end: number;
  /** The batch fetched at the seek target (low) arrived: batches from before the seek are ignored until then. */
  started: boolean;
  lastFetched: number;
  done: () => void;
}

/**
 * Reads chosen partitions of one topic from their start to a given end:
 * kafkajs has no manual assignment, so a consumer in a group of its own (all
 * partitions its own) keeps every partition paused, and a read seeks a
 * partition to its start and resumes it until the end. Joined once (the
 * first read), then reused. It never commits.
 */
class PartitionReader {
  private consumer: Consumer | null = null;
  private starting: Promise<void> | null = null;
  private readonly requests = new Map<number, ReadRequest & { onRecords: (r: RawDelivery[]) => void }>();
  private assigned: number[] = [];
  /** One read at a time (a partition read twice concurrently would interleave). */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly kafka: Kafka,
    private readonly physical: string,
    private readonly logicalName: string,
    private readonly log: Logger,
  ) {}

  prepare(): Promise<void> {
    return this.start();
  }

  private start(): Promise<void> {
    this.starting ??= (async () => {
      const c = this.kafka.consumer({
        groupId: `${this.physical}.reader.${randomUUID()}`,
        allowAutoTopicCreation: false,
        maxWaitTimeInMs: 100,
        maxBytesPerPartition: 16 * 1024 * 1024,
      });
      this.consumer = c;
      let joined!: () => void;
      const join = new Promise<void>((r) => (joined = r));
      c.on(c.events.GROUP_JOIN, (e) => {
        this.assigned = [...(e.payload.memberAssignment[this.physical] ?? [])];
        // Everything paused but what is being read (synchronously, before the first fetch).
        const idle = this.assigned.filter((p) => !this.requests.has(p));
        if (idle.length > 0) c.pause([{ topic: this.physical, partitions: idle }]);
        joined();
      });
      await c.connect();
      await c.subscribe({ topics: [this.physical], fromBeginning: true });
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 4,
        eachBatch: async ({ batch, isStale, resolveOffset }) => {
          // Resolved (never committed: autoCommit off) so the next fetch continues after this batch.
          if (this.onBatch(batch, isStale())) resolveOffset(batch.lastOffset());
        },
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([join, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`reader of ${this.logicalName}: no group join within 60 s`)), 60_000)))]);
      clearTimeout(timer);
    })();
    this.starting.catch(() => (this.starting = null));
    return this.starting;
  }

  private onBatch(
    batch: { partition: number; messages: { offset: string; key: Buffer | null; value: Buffer | null; headers?: Record<string, unknown>; timestamp: string }[]; lastOffset(): string },
    stale: boolean,
  ): boolean {
    const req = this.requests.get(batch.partition);
    if (!req || stale) return false;
    const fetched = Number((batch as unknown as { fetchedOffset: string }).fetchedOffset);
    if (!req.started) {
      if (fetched !== req.low) return false; // prefetched before the seek
      req.started = true;
    } else if (fetched <= req.lastFetched) return false;
    req.lastFetched = fetched;
    const out: RawDelivery[] = [];
    for (const m of batch.messages) {
      const off = Number(m.offset);
      if (off < req.low || off >= req.end) continue;
      out.push({
        topic: this.logicalName,
        partition: batch.partition,
        offset: m.offset,
        key: m.key === null ? null : m.key.toString('utf8'),
        value: m.value,
        headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v === undefined ? '' : String(v)])),
        timestamp_ms: Number(m.timestamp),
      });
    }
    if (out.length > 0) req.onRecords(out);
    if (Number(batch.lastOffset()) >= req.end - 1) req.done();
    return true;
  }

  /** Read each partition from `low` to `high` (exclusive); onRecords gets them in offset order per partition. */
  read(ranges: PartitionEnds, onRecords: (r: RawDelivery[]) => void): Promise<void> {
    const job = async () => {
      const todo = [...ranges].filter(([, r]) => Number(r.high) > Number(r.low));
      if (todo.length === 0) return;
      await this.start();
      const c = this.consumer as Consumer;
      const waits: Promise<void>[] = [];
      for (const [p, r] of todo) {
        if (!this.assigned.includes(p)) throw new Error(`reader of ${this.logicalName} was not assigned partition ${p}`);
        waits.push(
          new Promise<void>((resolve) => {
            this.requests.set(p, {
              low: Number(r.low),
              end: Number(r.high),
              started: false,
              lastFetched: -1,
              onRecords,
              done: () => {
                this.requests.delete(p);
                c.pause([{ topic: this.physical, partitions: [p] }]);
                resolve();
              },
            });
          }),
        );
        c.seek({ topic: this.physical, partition: p, offset: r.low });
      }
      c.resume([{ topic: this.physical, partitions: todo.map(([p]) => p) }]);
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.all(waits),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`reading ${this.logicalName} partitions ${todo.map(([p]) => p).join(',')} did not reach their end within 120 s`)), 120_000))),
        ]);
      } finally {
        clearTimeout(timer);
        for (const [p] of todo) this.requests.delete(p);
        c.pause([{ topic: this.physical, partitions: todo.map(([p]) => p) }]);
      }
      this.log.debug({ partitions: todo.map(([p]) => p) }, 'partitions read to their end');
    };
    const run = this.chain.then(job, job);
    this.chain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    this.consumer = null;
    this.starting = null;
  }
}
