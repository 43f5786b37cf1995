import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import { validate } from '../../src/contracts/codec.ts';
import { News as NewsSchema, type News } from '../../src/contracts/messages.ts';
import { BUNDLED_NEWS_SAMPLE, loadNewsSample, ReplayNewsSource } from '../../src/news/replay-source.ts';
import { NewsCursor } from '../../src/news/news-cursor.ts';

const logger = pino({ level: 'silent' });

/** Titles and epoch ms of the bundled sample, read by Python's csv module (independent reference). */
function reference(): { title: string; ms: number }[] {
  const py = `
import csv, json, sys, datetime
rows = list(csv.DictReader(open(sys.argv[1], encoding='utf-8', newline='')))
out = [{'title': r['title'].strip(), 'ms': int(datetime.datetime.strptime(r['published_utc'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)} for r in rows]
print(json.dumps(out))`;
  return JSON.parse(execFileSync('python3', ['-c', py, BUNDLED_NEWS_SAMPLE], { encoding: 'utf8' }));
}

test('bundled sample: 300 valid News in time order, same titles and times as Python csv', () => {
  const items = loadNewsSample();
  const ref = reference();
  assert.equal(items.length, 300);
  assert.equal(ref.length, 300);
  const sortedRef = [...ref].sort((a, b) => a.ms - b.ms);
  assert.deepEqual(
    items.map((n) => [n.title, n.published_ms]),
    sortedRef.map((r) => [r.title, r.ms]),
  );
  for (const n of items) assert.ok(validate(NewsSchema, n).ok, JSON.stringify(n));
  assert.equal(new Set(items.map((n) => n.id)).size, 300);
  assert.ok(items.every((n) => n.url.startsWith('https://cryptopanic.com/news/')));
});

test('replay at max speed: one batch; startAtMs shifts all times keeping spacing; cursor skips sent items', async () => {
  const start = Date.parse('2026-01-01T00:00:00Z');
  const cursor = new NewsCursor();
  const src = new ReplayNewsSource({ logger, startAtMs: start, cursor });
  const batches: News[][] = [];
  src.start(async (b) => void batches.push(b));
  await src.done();
  assert.equal(batches.length, 1);
  const ref = reference().sort((a, b) => a.ms - b.ms);
  assert.equal(batches[0]![0]!.published_ms, start);
  assert.deepEqual(
    batches[0]!.map((n) => n.published_ms - start),
    ref.map((r) => r.ms - ref[0]!.ms),
  );
  const again: News[][] = [];
  const src2 = new ReplayNewsSource({ logger, cursor });
  src2.start(async (b) => void again.push(b));
  await src2.done();
  assert.equal(again.length, 0, 'everything was already sent');
});

test('paced replay sleeps the gaps divided by speed (injected sleep)', async () => {
  const sleeps: number[] = [];
  const src = new ReplayNewsSource({ logger, speed: 60, sleep: async (ms) => void sleeps.push(ms) });
  const got: News[] = [];
  src.start(async (b) => void got.push(...b));
  await src.done();
  const ref = reference().sort((a, b) => a.ms - b.ms);
  const gaps = ref.slice(1).map((r, i) => (r.ms - ref[i]!.ms) / 60).filter((g) => g > 0);
  assert.equal(got.length, 300);
  assert.deepEqual(sleeps, gaps);
});
