/**
 * The real openai SDK against a local fake chat-completions server
 * (ts/test/fixtures/openai-fake.ts): structured output, retries with backoff,
 * dead-letter reasons, cache hits (the server counts requests), metrics.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { register } from 'prom-client';
import type { News } from '../../src/contracts/messages.ts';
import { llmScorer } from '../../src/sentiment/llm-scorer.ts';
import { SentimentPipeline, type RejectedNews } from '../../src/sentiment/sentiment-pipeline.ts';
import { memorySentimentCache, sqliteSentimentCache } from '../../src/sentiment/sentiment-cache.ts';
import type { SentimentScorer } from '../../src/sentiment/sentiment-output.ts';
import { FAKE_USAGE, startOpenAiFake, type OpenAiFake } from '../fixtures/openai-fake.ts';

const logger = pino({ level: 'silent' });
let fake: OpenAiFake;
before(async () => {
  fake = await startOpenAiFake({ slowMs: 5000 });
});
after(async () => {
  await fake.close();
});

let seq = 0;
function news(title: string, summary = ''): News {
  seq++;
  return { id: `n${seq}`, source: 'test', title, url: `https://t.io/${seq}`, published_ms: 1_700_000_000_000 + seq, summary };
}

function setup(o: { timeoutMs?: number; maxAttempts?: number; concurrency?: number; model?: string; scorer?: SentimentScorer } = {}) {
  const rejects: RejectedNews[] = [];
  const sleeps: number[] = [];
  const scorer =
    o.scorer ?? llmScorer({ baseURL: fake.baseURL, model: o.model ?? 'fake-model', apiKey: 'sk-test', timeoutMs: o.timeoutMs ?? 3000 });
  const pipeline = new SentimentPipeline({
    scorer,
    logger,
    onReject: (r) => void rejects.push(r),
    maxAttempts: o.maxAttempts ?? 3,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
    concurrency: o.concurrency ?? 4,
    sleep: async (ms) => void sleeps.push(ms),
  });
  return { pipeline, rejects, sleeps };
}

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const m = register.getSingleMetric(name);
  if (!m) return 0;
  const values = (await m.get()).values.filter((v) =>
    Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want),
  );
  return values.reduce((a, v) => a + v.value, 0);
}

test('good structured answer → one Sentiment per concerned coin; request uses strict json_schema', async () => {
  const { pipeline, rejects } = setup({ model: 'good-model' });
  const n = news('Bitcoin up while ether slips', 'Markets');
  const before = fake.count();
  const tokensBefore = await metricValue('tickcast_llm_tokens_total', { model: 'good-model', kind: 'prompt' });
  const out = await pipeline.process(n);
  assert.equal(fake.count() - before, 1);
  assert.deepEqual(rejects, []);
  assert.deepEqual(out, [
    { news_id: n.id, coin: 'BTC', score: 0.6, model: 'good-model', ts_ms: n.published_ms, reason: 'fake: bitcoin mentioned' },
    { news_id: n.id, coin: 'ETH', score: -0.4, model: 'good-model', ts_ms: n.published_ms, reason: 'fake: ether mentioned' },
  ]);
  const req = fake.requests.at(-1)!;
  assert.equal(req.body.model, 'good-model');
  assert.equal(req.authorization, 'Bearer sk-test');
  const rf = req.body.response_format!;
  assert.equal(rf.type, 'json_schema');
  assert.equal(rf.json_schema?.strict, true);
  const schema = rf.json_schema!.schema as { required: string[]; additionalProperties: boolean; properties: Record<string, any> };
  assert.deepEqual(schema.required, ['overall', 'coins']);
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(schema.properties.coins.items.required, ['coin', 'score', 'reason']);
  assert.equal(schema.properties.coins.items.additionalProperties, false);
  assert.ok(req.body.messages?.some((m) => m.role === 'user' && m.content.includes('Bitcoin up while ether slips')));
  assert.equal(
    (await metricValue('tickcast_llm_tokens_total', { model: 'good-model', kind: 'prompt' })) - tokensBefore,
    FAKE_USAGE.prompt_tokens,
  );
  assert.ok((await metricValue('tickcast_llm_request_seconds', { model: 'good-model', outcome: 'ok' })) > 0);
});

test('cache by content hash: the same headline is paid for once (memory and SQLite, across restarts)', async () => {
  const { pipeline } = setup({ model: 'cache-model' });
  const before = fake.count();
  const a = news('Bitcoin cache test', 's');
  const b = { ...news('Bitcoin cache test', 's') }; // another id, same content
  const [ra, rb, rc] = await Promise.all([pipeline.process(a), pipeline.process(b), pipeline.process(a)]);
  assert.equal(fake.count() - before, 1, 'three concurrent items with one content → one request');
  assert.equal(ra[0]?.news_id, a.id);
  assert.equal(rb[0]?.news_id, b.id);
  assert.deepEqual(rc, ra);
  assert.equal(await metricValue('tickcast_sentiment_cache_hits_total', { model: 'cache-model' }), 2);
  // A different summary is different content.
  await pipeline.process(news('Bitcoin cache test', 'other'));
  assert.equal(fake.count() - before, 2);

  const dir = mkdtempSync(join(tmpdir(), 'tickcast-sent-'));
  try {
    const file = join(dir, 'sentiment-cache.sqlite');
    const mk = () => {
      const cache = sqliteSentimentCache(file);
      const p = new SentimentPipeline({
        scorer: llmScorer({ baseURL: fake.baseURL, model: 'sqlite-model', apiKey: 'k' }),
        logger,
        cache,
        onReject: () => assert.fail('unexpected reject'),
      });
      return { p, cache };
    };
    const first = mk();
    const n1 = news('Bitcoin sqlite test');
    const c0 = fake.count();
    const r1 = await first.p.process(n1);
    first.cache.close();
    const second = mk(); // a restarted process
    const r2 = await second.p.process(n1);
    second.cache.close();
    assert.equal(fake.count() - c0, 1);
    assert.deepEqual(r2, r1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('429 then success: retried after backoff, counted as a rate_limit error, result delivered', async () => {
  const { pipeline, rejects, sleeps } = setup({ model: 'rl-model' });
  const before = fake.count('rate-limit-once');
  const out = await pipeline.process(news('Bitcoin [scenario:rate-limit-once]'));
  assert.equal(fake.count('rate-limit-once') - before, 2);
  assert.deepEqual(rejects, []);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.coin, 'BTC');
  assert.deepEqual(sleeps, [100]);
  assert.equal(await metricValue('tickcast_llm_errors_total', { model: 'rl-model', kind: 'rate_limit' }), 1);
});

const failures: { scenario: string; kind: string; reason: RegExp; requests: number; timeoutMs?: number }[] = [
  { scenario: 'server-error', kind: 'server', reason: /^server: HTTP 500.*after 3 attempts/, requests: 3 },
  { scenario: 'slow', kind: 'timeout', reason: /^timeout: .*after 3 attempts/, requests: 3, timeoutMs: 300 },
  { scenario: 'malformed', kind: 'invalid_output', reason: /^invalid_output: malformed JSON/, requests: 3 },
  { scenario: 'out-of-range', kind: 'invalid_output', reason: /coins\/0\/score/, requests: 3 },
  { scenario: 'refusal', kind: 'refusal', reason: /^refusal: refused: I'm sorry/, requests: 3 },
  { scenario: 'unauthorized', kind: 'client', reason: /^client: HTTP 401.*after 1 attempt\)/, requests: 1 },
];

for (const f of failures) {
  test(`${f.scenario}: bounded retries then dead-letter with reason (${f.kind})`, async () => {
    const model = `m-${f.scenario}`;
    const { pipeline, rejects, sleeps } = setup({ model, maxAttempts: 3, timeoutMs: f.timeoutMs });
    const n = news(`Bitcoin [scenario:${f.scenario}]`);
    const before = fake.count(f.scenario);
    const out = await pipeline.process(n);
    assert.deepEqual(out, []);
    assert.equal(fake.count(f.scenario) - before, f.requests);
    assert.equal(rejects.length, 1);
    assert.equal(rejects[0]!.news, n);
    assert.equal(rejects[0]!.kind, f.kind);
    assert.equal(rejects[0]!.attempts, f.requests);
    assert.match(rejects[0]!.reason, f.reason);
    assert.deepEqual(sleeps, [100, 200].slice(0, f.requests - 1), 'exponential backoff between attempts');
    assert.equal(await metricValue('tickcast_llm_errors_total', { model, kind: f.kind }), f.requests);
    assert.equal(await metricValue('tickcast_sentiment_rejected_total', { model, kind: f.kind }), 1);
    // A failure is not cached: the next try asks again.
    await pipeline.process(n);
    assert.equal(fake.count(f.scenario) - before, 2 * f.requests);
  });
}

test('invalid once, then valid: retried and delivered; failed items never block good ones', async () => {
  const { pipeline, rejects } = setup({ model: 'mix-model', maxAttempts: 2 });
  const results = await Promise.all([
    pipeline.process(news('Bitcoin [scenario:invalid-once]')),
    pipeline.process(news('Bitcoin [scenario:server-error] mix')),
    pipeline.process(news('Ether mix good')),
  ]);
  assert.equal(results[0]!.length, 1);
  assert.deepEqual(results[1], []);
  assert.equal(results[2]![0]!.coin, 'ETH');
  assert.equal(rejects.length, 1);
  assert.equal(rejects[0]!.kind, 'server');
});

test('bounded concurrency: never more than N scoring calls at once', async () => {
  const inner = llmScorer({ baseURL: fake.baseURL, model: 'conc-model', apiKey: 'k' });
  let active = 0;
  let peak = 0;
  const counting: SentimentScorer = {
    model: inner.model,
    kind: 'llm',
    async score(req) {
      active++;
      peak = Math.max(peak, active);
      try {
        await new Promise((r) => setImmediate(r));
        return await inner.score(req);
      } finally {
        active--;
      }
    },
  };
  const { pipeline } = setup({ scorer: counting, concurrency: 2 });
  const outs = await Promise.all(Array.from({ length: 9 }, (_, i) => pipeline.process(news(`Bitcoin item ${i}`))));
  assert.equal(outs.flat().length, 9);
  assert.equal(peak, 2);
  assert.equal(pipeline.activeCalls, 0);
});

test('memory cache is per instance and counts entries', () => {
  const c = memorySentimentCache();
  c.set('k', { overall: 0, coins: [] });
  assert.equal(c.size, 1);
  assert.deepEqual(c.get('k'), { overall: 0, coins: [] });
});
