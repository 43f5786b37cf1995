/**
 * The transport: what differs between Kafka and the in-process bus. It moves
 * raw bytes only; decoding, validation, retries and dead letters live once, in
 * bus.ts, so both modes validate identically.
 *
 * Topic names here are logical (`trades`, `dlq.trades`); a transport may map
 * them to physical names (the Kafka topic prefix).
 */

export interface RawRecord {
  key: string | null;
  value: Buffer | string | null;
  headers?: Record<string, string>;
  /** Kafka: this partition instead of the key's (a state changelog follows its input's partition). */
  partition?: number;
}

/** Per partition: the first retained offset and the end offset (the next to be written), decimal strings. */
export type PartitionEnds = Map<number, { low: string; high: string }>;

export interface RawDelivery {
  /** Logical topic name. */
  topic: string;
  partition: number;
  /** Offset in the partition, as a decimal string (Kafka's int64). */
  offset: string;
  key: string | null;
  /** The payload bytes; null for an empty payload, and for a `message` record. */
  value: Buffer | null;
  /**
   * In-process transport only: a record published with `sendValidated`. This
   * is a fresh copy (for this delivery) of the message that passed its topic's
   * schema in Bus.publish; the bus hands it on without decoding it again.
   */
  message?: unknown;
  headers: Record<string, string>;
  /** When the record was appended (broker or bus time), ms since epoch. */
  timestamp_ms: number;
}

/** A message the bus validated on publish (in-process transport only; see `Transport.sendValidated`). */
export interface ValidatedRecord {
  key: string;
  /** The bus's private copy of the message, the value that passed the schema. */
  message: unknown;
  /** How many messages it stands for (a trade batch: its trades; default 1): the in-process bus bounds memory and lag by this. */
  weight?: number;
}

export interface SubscribeOptions {
  group: string;
  /** Logical topic names. */
  topics: readonly string[];
  /** A group with no committed position starts at the earliest retained record (else at the end). */
  fromBeginning: boolean;
  /**
   * Called for each record in order per key (per partition). The transport
   * commits a record's offset only after this resolves; if it rejects, the
   * record is delivered again (never skipped). Give this or `eachBatch`.
   */
  eachRecord?: (record: RawDelivery) => Promise<void>;
  /**
   * Called with consecutive records (in order per key; on Kafka, one
   * partition's records per call). The transport commits the offsets of the
   * whole batch only after this resolves; if it rejects, the batch is delivered
   * again (never skipped).
   */
  eachBatch?: (records: RawDelivery[]) => Promise<void>;
  /** Most records per eachBatch call (default 5000). */
  maxBatch?: number;
  /**
   * Kafka: called at every group join (each rebalance) with the partitions of
   * each subscribed (logical) topic now assigned to this member. Those
   * partitions are paused until it resolves (a rejection is retried with
   * backoff; they stay paused): a stateful consumer restores the state of the
   * partitions it got and drops the state of those it lost before it consumes.
   */
  onAssign?: (assigned: Map<string, number[]>) => Promise<void>;
}

export interface Subscription {
  readonly group: string;
  /** Stop fetching, let the record in flight finish, commit what was processed. */
  stop(): Promise<void>;
}

export interface Transport {
  readonly kind: 'memory' | 'kafka';
  /** Connect and make sure the topics exist (idempotent). */
  start(topics: readonly string[]): Promise<void>;
  /** Append records; resolves when the transport has accepted them (Kafka: acks=all). */
  send(topic: string, records: readonly RawRecord[]): Promise<void>;
  /**
   * In-process transports only: append messages that the bus validated on
   * publish, as objects instead of bytes. The transport keeps them private and
   * delivers each consumer its own copy (`RawDelivery.message`), so what a
   * consumer gets is provably what passed the schema, and is not re-validated.
   * A transport that moves bytes between processes (Kafka) must not have it:
   * there every consumer decodes and validates what it receives.
   */
  sendValidated?(topic: string, records: readonly ValidatedRecord[]): Promise<void>;
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  /** Kafka: append records to one partition; resolves with the partition's end offset after them. */
  sendToPartition?(topic: string, partition: number, records: readonly RawRecord[]): Promise<string>;
  /** Kafka: first retained and end offsets per partition of a topic. */
  partitionEnds?(topic: string): Promise<PartitionEnds>;
  /** Kafka: read partitions from their first retained record to their end as of the call; returns those ends. */
  readPartitions?(topic: string, partitions: readonly number[], onRecords: (records: RawDelivery[]) => void): Promise<PartitionEnds>;
  /** Kafka: start the reader of a topic ahead of its first readPartitions. */
  prepareReader?(topic: string): Promise<void>;
  /** Resolve when every active subscription is idle with nothing pending (in-process only). */
  drain?(): Promise<void>;
  /** True after start() until close(). */
  connected(): boolean;
  /** Stops every subscription, then disconnects. */
  close(): Promise<void>;
}
