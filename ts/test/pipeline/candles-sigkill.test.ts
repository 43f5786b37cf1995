/**
 * The candles service as its own process on the real Kafka broker, killed
 * with SIGKILL while a window is open (no shutdown code runs: no final flush,
 * no final changelog write), then started again: from its state changelog
 * (candles-state-changelog) and the offsets it committed it must publish
 * exactly the candles of an uninterrupted run of the same real trades. A candle published twice (at
 * least once delivery) must be the same candle both times.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Candle, Trade } from '../../src/contracts/messages.ts';
import { Bus, KafkaTransport } from '../../src/bus/index.ts';
import { CandleStage } from '../../src/pipeline/candle-stage.ts';
import { readTradeCsv } from '../../src/sources/index.ts';
import { silentLogger } from '../sources/helpers.ts';
import { esUrl } from '../stores/es-test-env.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { testData } from '../fixtures/test-data.ts';
import { cleanEnv } from '../fixtures/env.ts';
import { until } from '../api/helpers.ts';

const HOW = 'start the test servers: bash scripts/services/with-services.sh node --import tsx --test ts/test/pipeline/candles-sigkill.test.ts';
const BIN = join(REPO_ROOT, 'bin/tickcast.js');
const GRACE_MS = 5000;

const key = (c: Candle) => `${c.pair}|${c.window_start_ms}`;

test('candles service killed with SIGKILL mid-window on Kafka, restarted: exactly the candles of an uninterrupted run', { timeout: 300_000 }, async () => {
  const brokers = process.env.TICKCAST_TEST_KAFKA_BROKERS;
  if (!brokers) throw new Error(`TICKCAST_TEST_KAFKA_BROKERS is not set: ${HOW}`);
  // Real Kraken XBT/USD trades, one hour (2019-07-01).
  const trades: Trade[] = [];
  for await (const b of readTradeCsv(testData('trades/kraken_XBTUSD_trades_20190701T0000-0100.csv'), { exchange: 'kraken' })) trades.push(...b.trades);
  assert.ok(trades.length > 2000);

  // The uninterrupted run: every candle the stage closes by event time over all the trades.
  const stage = new CandleStage({ graceMs: GRACE_MS });
  const want = new Map<string, Candle>();
  for (const t of trades) for (const c of stage.push(t).candles) want.set(key(c), c);
  assert.ok(want.size > 40);

  // Cut early in a minute, past the middle: that window is open at the kill, with trades on both sides of it.
  const cut = trades.findIndex((t, i) => i > trades.length / 2 && new Date(t.ts_ms).getUTCSeconds() <= 10) + 1;
  const cutWindow = Math.floor((trades[cut - 1] as Trade).ts_ms / 60_000) * 60_000;
  assert.ok(
    trades.slice(cut).some((t) => Math.floor(t.ts_ms / 60_000) * 60_000 === cutWindow),
    'the window open at the cut gets trades after the restart too',
  );
  const closedBeforeCut = [...want.values()].filter((c) => c.window_end_ms <= (trades[cut - 1] as Trade).ts_ms - GRACE_MS).length;

  const prefix = `t-sigkill-${Date.now()}-`;
  const dataDir = mkdtempSync(join(tmpdir(), 'tickcast-sigkill-'));
  const bus = new Bus(
    new KafkaTransport({ logger: silentLogger, brokers: brokers.split(','), clientId: 'tickcast-sigkill-test', partitions: 3, replicationFactor: 1, topicPrefix: prefix }),
    { logger: silentLogger },
  );
  await bus.start();
  const got: Candle[] = [];
  const dead: unknown[] = [];
  const children: ChildProcess[] = [];
  const service = (): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; stderr: () => string; stdout: () => string } => {
    const child = spawn(process.execPath, [BIN, 'run', 'candles'], {
      cwd: REPO_ROOT,
      env: cleanEnv({
        TICKCAST_MODE: 'production',
        TICKCAST_KAFKA_BROKERS: brokers,
        TICKCAST_KAFKA_TOPIC_PREFIX: prefix,
        TICKCAST_KAFKA_PARTITIONS: '3',
        TICKCAST_KAFKA_REPLICATION_FACTOR: '1',
        // The killed process never leaves its group: its partitions move to the new one after this.
        TICKCAST_KAFKA_SESSION_TIMEOUT_MS: '6000',
        TICKCAST_ES_URL: esUrl(),
        TICKCAST_DATA_DIR: dataDir,
        TICKCAST_HTTP_HOST: '127.0.0.1',
        TICKCAST_HTTP_PORT: '0',
        TICKCAST_CANDLE_GRACE_MS: String(GRACE_MS),
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    let stdout = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    return { child, exited, stderr: () => stderr, stdout: () => stdout };
  };
  try {
    await bus.consume({ group: `${prefix}collector`, topics: ['candles'], fromBeginning: true, handler: (c) => void got.push(c) });
    await bus.consumeDeadLetters({ group: `${prefix}dlq`, topics: ['trades'], fromBeginning: true, handler: (d) => void dead.push(d) });
    for (let i = 0; i < cut; i += 200) await bus.publish('trades', trades.slice(i, Math.min(i + 200, cut)));

    const first = service();
    const distinct = () => new Set(got.map(key)).size;
    await until(() => distinct() >= closedBeforeCut, `the ${closedBeforeCut} candles closed before the cut (${first.stderr()})`, 120_000);
    // Its offsets committed (so its state went to the changelog first): the restart must resume from the changelog, not from the trades.
    const transport = bus.transport as KafkaTransport;
    for (let t0 = Date.now(); (await transport.lag('candles', ['trades'])).get('trades') !== 0; await new Promise((r) => setTimeout(r, 200))) {
      assert.ok(Date.now() - t0 < 60_000, `the first process committed every trade within 60 s (${first.stderr()})`);
    }
    first.child.kill('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');
    assert.ok(!got.some((c) => c.window_start_ms === cutWindow), 'the window open at the kill was not published');

    for (let i = cut; i < trades.length; i += 200) await bus.publish('trades', trades.slice(i, Math.min(i + 200, trades.length)));
    const second = service();
    await until(() => [...want.keys()].every((k) => got.some((c) => key(c) === k)), `every candle of the uninterrupted run (${second.stderr()})`, 120_000);
    // The open window came back from the changelog: the restarted process restored the pair's state.
    const restored = second
      .stdout()
      .split('\n')
      .filter((l) => l.includes('state restored from the changelog'))
      .map((l) => JSON.parse(l) as { pairs: number; restored: number[] });
    assert.ok(restored.some((r) => r.pairs === 1 && r.restored.length > 0), `the restart restored BTC/USD's state: ${JSON.stringify(restored)}`);
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0, `graceful stop: ${second.stderr()}`);

    // Every candle of the uninterrupted run, equal to it; a repeated one repeats the same values.
    for (const c of got) {
      const w = want.get(key(c));
      if (w) assert.deepStrictEqual(c, w, `candle ${key(c)}`);
      else assert.ok(c.window_start_ms > Math.max(...[...want.values()].map((x) => x.window_start_ms)), `unexpected candle ${key(c)}: only windows after the last event-time close (closed on the clock at shutdown) may be extra`);
    }
    assert.deepStrictEqual(dead, [], 'no trade was dead-lettered (none counted late after the restart)');
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await bus.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
