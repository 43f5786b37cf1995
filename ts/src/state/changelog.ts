/**
 * A state changelog on Kafka: a compacted topic co-partitioned with a
 * consumer's input. The consumer writes a record per changed key to the
 * changelog partition of the input partition the change came from, before
 * it commits the input offsets; on assignment it reads the partitions it got
 * back to their end (the latest record per key is the state) before it
 * consumes them. This is what Kafka Streams and Quix Streams do; kafkajs has
 * no rebalance listener, so the transport pauses assigned partitions at each
 * group join until the consumer's `onAssign` resolved (SubscribeOptions).
 *
 * Ownership check: the changelog remembers, per partition, the end offset
 * after its own last write or restore. At a later assignment a partition it
 * still holds is current only if the broker's end equals that offset: if
 * another instance wrote meanwhile (the partition moved away and back, say
 * while this instance was out of the group), it is read again.
 */
import type { Logger } from 'pino';
import type { RawDelivery, RawRecord, Transport } from '../bus/transport.ts';

/** Largest sum of value bytes in one changelog send (before compression). */
const SEND_BYTES = 4 * 1024 * 1024;

export interface RestoreResult {
  /** Per partition, the latest record of each key. */
  latest: Map<number, Map<string, RawDelivery>>;
  /** Records read (all, before keeping the latest per key). */
  records: number;
  bytes: number;
  ms: number;
}

export class Changelog {
  private readonly knownEnd = new Map<number, string>();

  constructor(
    private readonly transport: Required<Pick<Transport, 'sendToPartition' | 'partitionEnds' | 'readPartitions'>>,
    readonly topic: string,
    private readonly log: Logger,
  ) {}

  /** The changelog of a transport that supports one (Kafka), else null. */
  static of(transport: Transport, topic: string, log: Logger): Changelog | null {
    const { sendToPartition, partitionEnds, readPartitions } = transport;
    if (!sendToPartition || !partitionEnds || !readPartitions) return null;
    return new Changelog(
      { sendToPartition: sendToPartition.bind(transport), partitionEnds: partitionEnds.bind(transport), readPartitions: readPartitions.bind(transport) },
      topic,
      log,
    );
  }

  /** Join the reader's group now, in the background (a first restore then does not wait for it). */
  prepare(transport: Transport): void {
    transport.prepareReader?.(this.topic).catch((err: unknown) => this.log.warn({ err, topic: this.topic }, 'changelog reader not started ahead (started at the first restore)'));
  }

  /** The number of partitions of the changelog (to check it against the input's). */
  async partitions(): Promise<number> {
    return (await this.transport.partitionEnds(this.topic)).size;
  }

  /** Append state records to a partition; on failure the partition is no longer known current (read again at the next assignment). */
  async write(partition: number, records: readonly RawRecord[]): Promise<void> {
    let from = 0;
    while (from < records.length) {
      let bytes = 0;
      let to = from;
      while (to < records.length && (to === from || bytes + valueBytes(records[to] as RawRecord) <= SEND_BYTES)) bytes += valueBytes(records[to++] as RawRecord);
      try {
        this.knownEnd.set(partition, await this.transport.sendToPartition(this.topic, partition, records.slice(from, to)));
      } catch (err) {
        this.knownEnd.delete(partition);
        throw err;
      }
      from = to;
    }
  }

  /** Of the partitions given, those whose changelog end is the one this instance wrote or read last. */
  async current(partitions: readonly number[]): Promise<Set<number>> {
    const out = new Set<number>();
    const mine = partitions.filter((p) => this.knownEnd.has(p));
    if (mine.length === 0) return out;
    const ends = await this.transport.partitionEnds(this.topic);
    for (const p of mine) if (ends.get(p)?.high === this.knownEnd.get(p)) out.add(p);
    return out;
  }

  /** Forget a partition (revoked). */
  forget(partition: number): void {
    this.knownEnd.delete(partition);
  }

  /** Read partitions to their end: the latest record per key of each. */
  async restore(partitions: readonly number[]): Promise<RestoreResult> {
    const t0 = performance.now();
    const latest = new Map<number, Map<string, RawDelivery>>(partitions.map((p) => [p, new Map()]));
    let records = 0;
    let bytes = 0;
    if (partitions.length === 0) return { latest, records, bytes, ms: 0 };
    const ends = await this.transport.readPartitions(this.topic, partitions, (recs) => {
      for (const r of recs) {
        records++;
        bytes += r.value?.length ?? 0;
        if (r.key === null) continue;
        const m = latest.get(r.partition);
        if (!m) continue;
        if (r.value === null) m.delete(r.key);
        else m.set(r.key, r);
      }
    });
    for (const [p, e] of ends) this.knownEnd.set(p, e.high);
    const ms = performance.now() - t0;
    this.log.debug({ topic: this.topic, partitions, records, bytes, ms: Math.round(ms) }, 'changelog partitions restored');
    return { latest, records, bytes, ms };
  }
}

function valueBytes(r: RawRecord): number {
  return r.value === null ? 0 : typeof r.value === 'string' ? Buffer.byteLength(r.value) : r.value.length;
}
