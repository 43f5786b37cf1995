/**
 * Benchmark: restore of one partition's candles state from its changelog
 * (issue 19.3; goal: under 1 s for 100 pairs), on the real Kafka broker.
 *
 * One changelog partition is written as the candles service writes it: 100
 * pairs made from real trades (shifted in time, scaled in price), pushed
 * through the candle stage one event-time minute at a time, each minute's
 * changed pairs written as the service writes them (pairChangelogRecords: a
 * record of the live state, open windows and watermark; a record of the
 * remembered trade ids of each window with trades that closed). Compaction has not run (the
 * active segment is never compacted): the restore reads every record, the
 * worst case. Two states:
 *   light: Kraken XBT/USD, one hour (~2.3k trades per pair remembered);
 *   heavy: Binance BTC/USDT, 11 minutes (~20k trades per pair remembered).
 * Then a new transport restores the partition (records read to the end, the
 * latest per key applied to a new stage): cold (the first, including the
 * reader consumer's group join) and warm (the reader already joined, what a
 * rebalance of a running instance costs), median of 3; and a new instance as
 * the candles service starts one (its reader joining in the background while
 * its consumer joins the group, the restore timed from the assignment). Each
 * restored pair's state is checked equal to the written one.
 *
 * Run: bash scripts/services/with-services.sh node --import tsx bench/restore.ts
 * (`make bench` does; without a broker, as in bench/run.ts's pass, it says it was not measured).
 */
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { Trade } from '../ts/src/contracts/messages.ts';
import { KafkaTransport, changelogTopic, type RawDelivery, type RawRecord } from '../ts/src/bus/index.ts';
import { Changelog } from '../ts/src/state/changelog.ts';
import { CandleStage } from '../ts/src/pipeline/candle-stage.ts';
import { pairChangelogRecords, restorePairs } from '../ts/src/pipeline/candles-service.ts';
import { readTradeCsv } from '../ts/src/sources/index.ts';
import { testData } from '../ts/test/fixtures/test-data.ts';

const log = pino({ level: 'silent' });
const PAIRS = Number(process.env.BENCH_RESTORE_PAIRS ?? 100);
const GOAL_MS = 1000;
const MIN = 60_000;

async function pairsFrom(file: string, exchange: string): Promise<Trade[]> {
  const src: Trade[] = [];
  for await (const b of readTradeCsv(testData(file), { exchange })) src.push(...b.trades);
  const out: Trade[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const pair = `R${String(i).padStart(3, '0')}/USD`;
    for (const t of src) out.push({ ...t, pair, ts_ms: t.ts_ms + i * 1000, price: Number((t.price * (1 + i / 1000)).toFixed(2)) });
  }
  return out.sort((a, b) => a.ts_ms - b.ts_ms);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export async function run(): Promise<void> {
  const brokers = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  if (!brokers) {
    console.log('restore: not measured (needs TICKCAST_TEST_KAFKA_BROKERS: run under scripts/services/with-services.sh, as `make bench` does)');
    return;
  }
  const prefix = `bench-restore-${Date.now()}-`;
  const topic = changelogTopic('candles');
  const mk = () => new KafkaTransport({ logger: log, brokers: brokers.split(','), clientId: 'bench-restore', partitions: 6, replicationFactor: 1, topicPrefix: prefix });
  const writer = mk();
  await writer.start([topic]);
  const cases: [string, string, string, number][] = [
    ['light', 'trades/kraken_XBTUSD_trades_20190701T0000-0100.csv', 'kraken', 0],
    ['heavy', 'trades/binance_spot_BTCUSDT_trades_20240808T2354-20240809T0005.csv', 'binance', 1],
  ];
  console.log(`restore: one changelog partition of ${PAIRS} pairs, uncompacted (every record read); goal < ${GOAL_MS} ms`);
  try {
    for (const [label, file, exchange, partition] of cases) {
      const trades = await pairsFrom(file, exchange);
      const stage = new CandleStage();
      const cl = Changelog.of(writer, topic, log) as Changelog;
      let offset = 0;
      const allClosed = new Map<string, number[]>();
      let records = 0;
      let bytes = 0;
      for (let i = 0; i < trades.length; ) {
        const minute = Math.floor((trades[i] as Trade).ts_ms / MIN);
        let j = i;
        while (j < trades.length && Math.floor((trades[j] as Trade).ts_ms / MIN) === minute) j++;
        const batch = trades.slice(i, j);
        const closed = new Map<string, number[]>();
        for (const c of stage.pushMany(batch).candles) if (c.trade_count > 0) closed.set(c.pair, [...(closed.get(c.pair) ?? []), c.window_start_ms]);
        offset += batch.length;
        const pairs = [...new Set(batch.map((t) => t.pair))];
        // As the service writes them (pairChangelogRecords): each changed pair's live state, the ids of its windows that closed.
        const recs: RawRecord[] = pairs.flatMap((p) => pairChangelogRecords(stage, exchange, p, closed.get(p) ?? [], partition, { input_offset: String(offset) }));
        for (const r of recs) bytes += (r.value as string).length;
        for (const [p, st] of closed) allClosed.set(p, [...(allClosed.get(p) ?? []), ...st]);
        records += recs.length;
        await cl.write(partition, recs);
        i = j;
      }
      const written = new Map<string, string>();
      for (let i = 0; i < PAIRS; i++) {
        const p = `R${String(i).padStart(3, '0')}/USD`;
        written.set(p, stage.snapshotPair(exchange, p) as string);
      }
      const latestBytes = [...written.values()].reduce((a, v) => a + v.length, 0);
      // The same state as compaction leaves it (the latest record per key only), in partition + 2.
      const compactedMap = new Map<string, RawRecord>();
      const compacted: RawRecord[] = [];
      for (const p of written.keys()) {
        const starts = [...allClosed.get(p) ?? []];
        for (const r of pairChangelogRecords(stage, exchange, p, starts, partition + 2, { input_offset: String(offset) })) compactedMap.set(r.key as string, r);
      }
      compacted.push(...compactedMap.values());
      await cl.write(partition + 2, compacted);

      const reader = mk();
      await reader.start([]);
      /** Restores one partition with cl into a new stage (timed), and checks every pair's state against the written one. */
      const restoreChecked = async (cl: Changelog, part: number): Promise<{ ms: number; readMs: number; pairs: number }> => {
        const t0 = performance.now();
        const r = await cl.restore([part]);
        const readMs = performance.now() - t0;
        const s = new CandleStage();
        const n = restorePairs(s, r.latest.get(part) ?? new Map<string, RawDelivery>(), label).length;
        const ms = performance.now() - t0;
        for (const [p, snap] of written) if (s.snapshotPair(exchange, p) !== snap) throw new Error(`${label}: restored state of ${p} differs from the written one`);
        return { ms, readMs, pairs: n };
      };
      const restoreOnce = (part = partition) => restoreChecked(Changelog.of(reader, topic, log) as Changelog, part);
      /** What the candles service does on a new instance: Changelog.prepare, then its group join; the restore is timed from the assignment. */
      const newInstance = async (): Promise<{ ms: number; assignedMs: number }> => {
        const inst = mk();
        const t0 = performance.now();
        await inst.start([topic, 'trades']);
        const icl = Changelog.of(inst, topic, log) as Changelog;
        icl.prepare(inst);
        let done!: (x: { ms: number; assignedMs: number }) => void;
        let failed!: (e: unknown) => void;
        const result = new Promise<{ ms: number; assignedMs: number }>((res, rej) => ((done = res), (failed = rej)));
        const sub = await inst.subscribe({
          group: `new-instance-${label}`,
          topics: ['trades'],
          fromBeginning: true,
          eachBatch: async () => undefined,
          onAssign: async () => {
            const assignedMs = performance.now() - t0;
            await restoreChecked(icl, partition).then((x) => done({ ms: x.ms, assignedMs }), failed);
          },
        });
        try {
          return await result;
        } finally {
          await sub.stop();
          await inst.close();
        }
      };
      try {
        const cold = await restoreOnce();
        const warm: { ms: number; readMs: number; pairs: number }[] = [];
        for (let k = 0; k < 3; k++) warm.push(await restoreOnce());
        const w = median(warm.map((x) => x.ms));
        const comp: { ms: number; readMs: number; pairs: number }[] = [];
        for (let k = 0; k < 3; k++) comp.push(await restoreOnce(partition + 2));
        const c = median(comp.map((x) => x.ms));
        console.log(
          `  ${label}: ${trades.length / PAIRS} trades per pair (${exchange}), ${records} records / ${(bytes / 1e6).toFixed(1)} MB in the partition (latest per pair: ${(latestBytes / 1e6).toFixed(1)} MB); ` +
            `restore cold ${cold.ms.toFixed(0)} ms (reader join + read ${cold.readMs.toFixed(0)} ms), warm ${w.toFixed(0)} ms (read ${median(warm.map((x) => x.readMs)).toFixed(0)} ms), ${cold.pairs} pairs equal; ` +
            `goal < ${GOAL_MS} ms -> warm ratio ${(w / GOAL_MS).toFixed(2)}, cold ${(cold.ms / GOAL_MS).toFixed(2)}`,
        );
        console.log(
          `  ${label}, compacted (${compacted.length} records, ${(latestBytes / 1e6).toFixed(1)} MB): restore warm ${c.toFixed(0)} ms (read ${median(comp.map((x) => x.readMs)).toFixed(0)} ms); goal < ${GOAL_MS} ms -> ratio ${(c / GOAL_MS).toFixed(2)}`,
        );
        const fresh = await newInstance();
        console.log(
          `  ${label}, a new instance as \`tickcast run candles\` starts (its changelog reader joins in the background while its consumer joins the group): ` +
            `restore at the assignment ${fresh.ms.toFixed(0)} ms (uncompacted), assignment ${fresh.assignedMs.toFixed(0)} ms after the start; goal < ${GOAL_MS} ms -> ratio ${(fresh.ms / GOAL_MS).toFixed(2)}`,
        );
      } finally {
        await reader.close();
      }
    }
  } finally {
    await writer.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
