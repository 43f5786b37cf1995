/**
 * The first two minutes of the embedded run as `make run` starts it offline (`tickcast run all`,
 * a real process, every registered service; Kraken unreachable, so the bundled trades and news are
 * replayed): the replay stands in for the live market, so it runs in the present. Checked by the
 * wall clock, from outside: no freshness or no-prediction alert goes pending or fires (the
 * monitor's log and the snapshot it writes after every check, TICKCAST_DATA_DIR/monitor/snapshot.json),
 * the freshness it reports is minutes, not years, and the latest prediction is not stale.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TickcastProcess } from '../fixtures/tickcast-process.ts';

const PAIRS = ['BTC/USD', 'ETH/USD'];
const WATCHED_RULES = new Set(['no_prediction', 'candles_stale', 'features_stale', 'sentiment_stale']);
const RUN_MS = 120_000;

/** A local port with nothing listening (the Kraken WebSocket URL: refused at once, so the run falls back to the replay). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

interface Monitoring {
  generated_at_ms: number;
  freshness: { key: string; kind: string; newest_ms: number | null; age_s: number | null }[];
  alerts: { rule: string; key: string; state: string; value: number }[];
}

test('tickcast run all, offline: in the first two minutes no freshness or no-prediction alert, and the latest prediction is not stale', { timeout: RUN_MS + 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tickcast-first-run-'));
  const started = Date.now();
  const proc = TickcastProcess.start(['run', 'all'], {
    TICKCAST_DATA_DIR: dataDir,
    TICKCAST_HTTP_HOST: '127.0.0.1',
    TICKCAST_HTTP_PORT: '0',
    TICKCAST_API_PORT: '0',
    TICKCAST_PAIRS: PAIRS.join(','),
    TICKCAST_KRAKEN_WS_URL: `ws://127.0.0.1:${await closedPort()}`,
  });
  const alertsSeen: string[] = [];
  const latest = new Map<string, { stale: boolean; age_ms: number; prediction: { made_at_ms: number } }>();
  let candleFreshness: { key: string; age_s: number; newest_ms: number }[] = [];
  const checks = new Set<number>();
  const snapshotFile = join(dataDir, 'monitor', 'snapshot.json');
  try {
    const url = await proc.apiUrl(90_000);
    await proc.until((l) => l.msg === 'replaying trade files in a loop (each pass shifted in time)', 'the offline replay', 30_000);
    while (Date.now() - started < RUN_MS) {
      await new Promise((r) => setTimeout(r, 5_000));
      if (!existsSync(snapshotFile)) continue;
      let m: Monitoring;
      try {
        m = JSON.parse(readFileSync(snapshotFile, 'utf8')) as Monitoring;
      } catch {
        continue; // replaced while read
      }
      checks.add(m.generated_at_ms);
      for (const a of m.alerts) if (WATCHED_RULES.has(a.rule)) alertsSeen.push(`${a.rule} ${a.key} ${a.state} (value ${a.value}) at +${Date.now() - started} ms`);
      const candles = m.freshness.filter((f) => f.kind === 'candle' && f.age_s !== null && f.newest_ms !== null);
      if (candles.length > 0) candleFreshness = candles as typeof candleFreshness;
      for (const pair of PAIRS) {
        const r = await fetch(`${url}/v1/predictions/latest?pair=${encodeURIComponent(pair)}`);
        if (r.status === 200) latest.set(pair, (await r.json()) as { stale: boolean; age_ms: number; prediction: { made_at_ms: number } });
      }
    }
    for (const l of proc.lines) {
      if (typeof l.msg === 'string' && l.msg.startsWith('alert ') && WATCHED_RULES.has(String(l.rule))) alertsSeen.push(`log: ${l.msg} ${String(l.rule)} ${String(l.key)}`);
    }
    assert.ok(checks.size >= 3, `the monitor checked its alert rules (every 15 s; ${checks.size} checks seen)`);
    assert.deepEqual(alertsSeen, [], 'no freshness or no-prediction alert, pending or firing');
    // The candles are of the present: the newest is at most two minutes old by the wall clock (the 2019/2022 sample, replayed as is, was years old).
    assert.equal(candleFreshness.length, PAIRS.length, `a candle for every pair: ${JSON.stringify(candleFreshness)}`);
    for (const f of candleFreshness) {
      assert.ok(f.age_s <= 120, `${f.key}: newest candle ${f.age_s} s old`);
      assert.ok(f.newest_ms >= started - 60_000, `${f.key}: newest candle ${new Date(f.newest_ms).toISOString()} is not before the run`);
    }
    // The trainer promotes a model only where it beats its baselines on the bundled candles; at least one pair predicts.
    assert.ok(latest.size >= 1, 'a latest prediction within two minutes');
    for (const [pair, p] of latest) {
      assert.equal(p.stale, false, `${pair}: latest prediction made at ${new Date(p.prediction.made_at_ms).toISOString()}, age ${p.age_ms} ms`);
    }
  } catch (err) {
    await proc.stop();
    throw err;
  }
  const { code } = await proc.stop();
  assert.equal(code, 0, `graceful exit; stderr: ${proc.stderr.slice(-2000)}`);
});
