// `tickcast record` against the fake Binance (real BTCUSDT recording over ws + HTTP on
// 127.0.0.1), then `tickcast replay-book` on the file it wrote: the replay prints the same book
// features the recording run printed, line for line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BinanceDepthFake } from '../fixtures/binance-depth-fake.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(REPO_ROOT, 'ts/src/cli.ts')];

test('record writes a recording that replay-book turns into the same book features', { timeout: 120_000 }, async () => {
  const fake = await BinanceDepthFake.start({ from: 300, to: 2400, batch: 10, tickMs: 2, snapshotDelayMs: 40 });
  const out = join(mkdtempSync(join(tmpdir(), 'record-')), 'book.jsonl.gz');
  try {
    const rec = await run(process.execPath, [...CLI, 'record', '--out', out, '--binance-pairs', 'BTC/USDT', '--binance-url', fake.wsUrl, '--binance-rest-url', fake.restUrl, '--duration-s', '4'], { cwd: REPO_ROOT, env: { ...process.env, TICKCAST_LOG_LEVEL: 'warn' } });
    assert.ok(existsSync(out));
    const live = rec.stdout.trim().split('\n').filter((l) => l.length > 0);
    assert.ok(live.length >= 2, `${live.length} minutes printed while recording`);
    const rep = await run(process.execPath, [...CLI, 'replay-book', out, '--binance-pairs', 'BTC/USDT'], { cwd: REPO_ROOT });
    assert.deepEqual(rep.stdout.trim().split('\n'), live);
    const first = JSON.parse(live[0]!) as { exchange: string; pair: string; features: Record<string, number | null> };
    assert.equal(first.exchange, 'binance');
    assert.equal(first.pair, 'BTC/USDT');
    assert.ok((first.features.messages ?? 0) > 0);
  } finally {
    await fake.close();
  }
});
