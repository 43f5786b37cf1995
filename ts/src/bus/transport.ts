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
}

export interface RawDelivery {
  /** Logical topic name. */
  topic: string;
  partition: number;
  /** Offset in the partition, as a decimal string (Kafka's int64). */
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** When the record was appended (broker or bus time), ms since epoch. */
  timestamp_ms: number;
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
   * record is delivered again (never skipped).
   */
  eachRecord: (record: RawDelivery) => Promise<void>;
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
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  /** Resolve when every active subscription is idle with nothing pending (in-process only). */
  drain?(): Promise<void>;
  /** True after start() until close(). */
  connected(): boolean;
  /** Stops every subscription, then disconnects. */
  close(): Promise<void>;
}
