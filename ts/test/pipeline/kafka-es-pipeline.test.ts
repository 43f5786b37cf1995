/**
 * The market-data pipeline on the production parts: real Kafka broker for the
 * streams, real Elasticsearch node for the feature store. The same real
 * trades must give exactly the candles and features of the embedded run
 * (in-process bus + SQLite).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Trade } from '../../src/contracts/messages.ts';
import { Bus, MemoryTransport, KafkaTransport } from '../../src/bus/index.ts';
import { openStores } from '../../src/stores/index.ts';
import type { Stores } from '../../src/stores/types.ts';
import type { Config } from '../../src/config/config.ts';
import type { ServiceContext } from '../../src/services/runner.ts';
import { candlesService } from '../../src/pipeline/candles-service.ts';
import { featuresService } from '../../src/pipeline/features-service.ts';
import { readTradeCsv } from '../../src/sources/index.ts';
import { silentLogger } from '../sources/helpers.ts';
import { esUrl, testPrefix, deleteIndices } from '../stores/es-test-env.ts';
import { testData } from '../fixtures/test-data.ts';

const HOW = 'start the test servers: bash scripts/services/with-services.sh node --import tsx --test ts/test/pipeline/kafka-es-pipeline.test.ts';
const PAIRS = ['BTC/USD', 'ETH/USD'];

async function realTrades(): Promise<Trade[]> {
  const out: Trade[] = [];
  for (const f of ['kraken_XBTUSD_trades_20190701T0000-0100.csv', 'kraken_ETHUSD_trades_20220320T1018-1207.csv']) {
    for await (const b of readTradeCsv(testData(`trades/${f}`), { exchange: 'kraken' })) out.push(...b.trades);
  }
  return out;
}

async function run(bus: Bus, stores: Stores, trades: Trade[], settle: () => Promise<void>) {
  await bus.start();
  const ctx: ServiceContext = { config: {} as Config, logger: silentLogger, bus, stores: async () => stores, signal: new AbortController().signal };
  const services = [candlesService(), featuresService()];
  for (const s of services) await s.start(ctx);
  for (let i = 0; i < trades.length; i += 500) await bus.publish('trades', trades.slice(i, i + 500));
  await settle();
  for (const s of services) await s.stop();
  await bus.close();
}

const readAll = async (s: Stores) =>
  Object.fromEntries(
    await Promise.all(
      PAIRS.map(async (pair) => [pair, { candles: await s.features.candles.range({ pair, interval_s: 60 }), features: await s.features.technical.range({ pair, interval_s: 60 }) }] as const),
    ),
  );

test('trades -> candles -> features over real Kafka into real Elasticsearch equal the embedded run', { timeout: 600_000 }, async () => {
  const brokers = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  if (!brokers) throw new Error(`TICKCAST_TEST_KAFKA_BROKERS is not set: ${HOW}`);
  const es = esUrl();
  const trades = await realTrades();
  assert.equal(trades.length, 2672 + 1000);

  // Reference: the embedded run.
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-kafka-es-ref-'));
  const refStores = await openStores({ kind: 'sqlite', dataDir: dir }, silentLogger);
  const memBus = new Bus(new MemoryTransport({ logger: silentLogger }), { logger: silentLogger });
  await run(memBus, refStores, trades, () => memBus.drain());
  const reference = await readAll(refStores);
  await refStores.close();
  rmSync(dir, { recursive: true, force: true });
  const expectedRows = PAIRS.reduce((n, p) => n + (reference[p]?.features.length ?? 0), 0);
  assert.ok(expectedRows > 100, `reference produced ${expectedRows} feature rows`);

  const prefix = testPrefix();
  const topicPrefix = `pipe${Date.now().toString(36)}-`;
  const stores = await openStores({ kind: 'elasticsearch', node: es, indexPrefix: prefix, refresh: true } as Parameters<typeof openStores>[0], silentLogger);
  try {
    const bus = new Bus(
      new KafkaTransport({ logger: silentLogger, brokers: brokers.split(','), clientId: 'tickcast-pipeline-test', partitions: 3, replicationFactor: 1, topicPrefix, lagIntervalMs: 0 }),
      { logger: silentLogger },
    );
    await run(bus, stores, trades, async () => {
      const deadline = Date.now() + 8 * 60_000;
      for (;;) {
        const got = await readAll(stores);
        const n = PAIRS.reduce((k, p) => k + (got[p]?.features.length ?? 0), 0);
        if (n >= expectedRows) return;
        if (Date.now() > deadline) throw new Error(`only ${n} of ${expectedRows} feature rows reached Elasticsearch`);
        await new Promise((r) => setTimeout(r, 500));
      }
    });
    const got = await readAll(stores);
    for (const p of PAIRS) {
      assert.deepStrictEqual(got[p]?.candles, reference[p]?.candles, `${p}: candles in Elasticsearch differ from the embedded run`);
      assert.deepStrictEqual(got[p]?.features, reference[p]?.features, `${p}: features in Elasticsearch differ from the embedded run`);
    }
  } finally {
    await stores.close();
    await deleteIndices(es, prefix).catch(() => undefined);
  }
});
