import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sentiment } from '../../src/contracts/messages.ts';
import { validate } from '../../src/contracts/codec.ts';
import { SentimentFeatures } from '../../src/stores/types.ts';
import {
  SENTIMENT_FEATURE_NAMES,
  SentimentFeatureState,
  sentimentFeaturesAt,
} from '../../src/sentiment/sentiment-features.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const s = (news_id: string, coin: string, score: number, ts_ms: number, model = 'm'): Sentiment => ({
  news_id,
  coin,
  score,
  model,
  ts_ms,
});

/** Brute-force reference written independently: filter per window, plain sums. */
function reference(scores: Sentiment[], coin: string, t: number): Record<string, number | null> {
  const uniq: Sentiment[] = [];
  for (const x of scores) {
    if (x.coin === coin && x.ts_ms <= t && !uniq.some((u) => u.news_id === x.news_id && u.coin === x.coin && u.model === x.model)) {
      uniq.push(x);
    }
  }
  const out: Record<string, number | null> = {};
  for (const [name, hours] of [['1h', 1], ['6h', 6], ['24h', 24]] as const) {
    const inW = uniq.filter((x) => t - x.ts_ms < hours * H);
    out[`sent_${name}_count`] = inW.length;
    out[`sent_${name}_mean`] = inW.length ? inW.map((x) => x.score).reduce((a, b) => a + b) / inW.length : null;
    const w = inW.map((x) => Math.pow(0.5, (t - x.ts_ms) / ((hours * H) / 2)));
    out[`sent_${name}_ewm`] = inW.length ? inW.reduce((a, x, i) => a + w[i]! * x.score, 0) / w.reduce((a, b) => a + b) : null;
  }
  const sorted = [...uniq].sort((a, b) => b.ts_ms - a.ts_ms);
  out.sent_last = sorted[0]?.score ?? null;
  out.sent_last_age_s = sorted[0] ? (t - sorted[0].ts_ms) / 1000 : null;
  return out;
}

function assertClose(got: Record<string, number | null>, want: Record<string, number | null>, msg = '') {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), msg);
  for (const k of Object.keys(want)) {
    const g = got[k];
    const w = want[k];
    if (w === null || w === undefined) assert.equal(g, null, `${msg} ${k}`);
    else assert.ok(typeof g === 'number' && Math.abs(g - w) <= 1e-12 * Math.max(1, Math.abs(w)), `${msg} ${k}: ${g} vs ${w}`);
  }
}

test('hand-computed case: windows, counts, means, half-life weights, last', () => {
  const t = T0;
  const scores = [s('a', 'BTC', 0.5, t - 0.5 * H), s('b', 'BTC', -1, t - 3 * H), s('c', 'ETH', 0.9, t - 0.1 * H)];
  const f = sentimentFeaturesAt(scores, 'BTC', t);
  assert.equal(f.coin, 'BTC');
  assert.equal(f.ts_ms, t);
  assert.ok(validate(SentimentFeatures, f).ok, 'matches the stores SentimentFeatures row schema');
  assert.deepEqual(Object.keys(f.features), [...SENTIMENT_FEATURE_NAMES]);
  // 1h: only a (0.5). 6h and 24h: a and b.
  assert.equal(f.features.sent_1h_count, 1);
  assert.equal(f.features.sent_1h_mean, 0.5);
  assert.equal(f.features.sent_1h_ewm, 0.5);
  assert.equal(f.features.sent_6h_count, 2);
  assert.equal(f.features.sent_6h_mean, -0.25);
  // weights with half-life 3h: 2^(-0.5/3) = 0.8908987, 2^(-3/3) = 0.5 → (0.44544935 - 0.5) / 1.3908987 = -0.0392197
  assert.ok(Math.abs(f.features.sent_6h_ewm! - -0.0392197) < 1e-6, String(f.features.sent_6h_ewm));
  // 24h: half-life 12h: 2^(-0.5/12) = 0.9715319, 2^(-3/12) = 0.8408964 → (0.4857660 - 0.8408964) / 1.8124283 = -0.1959412
  assert.ok(Math.abs(f.features.sent_24h_ewm! - -0.1959412) < 1e-6, String(f.features.sent_24h_ewm));
  assert.equal(f.features.sent_last, 0.5);
  assert.equal(f.features.sent_last_age_s, 1800);
  // Empty: counts 0, aggregates null.
  const e = sentimentFeaturesAt(scores, 'SOL', t);
  assert.equal(e.features.sent_24h_count, 0);
  assert.equal(e.features.sent_24h_mean, null);
  assert.equal(e.features.sent_last, null);
  // Window edge: exactly W old is out; exactly at t is in.
  const edge = sentimentFeaturesAt([s('x', 'BTC', 1, t - H), s('y', 'BTC', -1, t)], 'BTC', t);
  assert.equal(edge.features.sent_1h_count, 1);
  assert.equal(edge.features.sent_1h_mean, -1);
  assert.equal(edge.features.sent_6h_count, 2);
});

/** Random scores over 72 h; about 10% are re-deliveries (same natural key, same message) of earlier ones. */
function randomScores(rnd: () => number, n: number): Sentiment[] {
  const coins = ['BTC', 'ETH'];
  const out: Sentiment[] = [];
  for (let i = 0; i < n; i++) {
    if (out.length && rnd() < 0.1) {
      out.push({ ...out[Math.floor(rnd() * out.length)]! });
      continue;
    }
    const ts = T0 + Math.floor(rnd() * 72 * H);
    out.push(s(`n${i}`, coins[Math.floor(rnd() * 2)]!, Math.round((rnd() * 2 - 1) * 1000) / 1000, ts, rnd() < 0.8 ? 'm' : 'm2'));
  }
  return out;
}

test('no look-ahead: changing, adding or removing any item after t leaves the features at t unchanged', () => {
  const rnd = mulberry32(42);
  for (let round = 0; round < 30; round++) {
    const scores = randomScores(rnd, 200);
    const t = T0 + Math.floor(rnd() * 72 * H);
    for (const coin of ['BTC', 'ETH']) {
      const base = sentimentFeaturesAt(scores, coin, t);
      assertClose(base.features, reference(scores, coin, t), `round ${round} ${coin}`);
      const altered = scores.map((x) => (x.ts_ms > t ? { ...x, score: -x.score, news_id: `${x.news_id}x` } : x));
      const added = [...scores, ...Array.from({ length: 20 }, (_, i) => s(`late${i}`, coin, 1, t + 1 + i * 1000))];
      const removed = scores.filter((x) => x.ts_ms <= t);
      for (const variant of [altered, added, removed]) {
        assert.deepEqual(sentimentFeaturesAt(variant, coin, t), base);
      }
    }
  }
});

test('incremental form equals the pure function at every candle time (arrivals interleaved, some out of order)', () => {
  const rnd = mulberry32(7);
  const scores = randomScores(rnd, 400).sort((a, b) => a.ts_ms - b.ts_ms);
  // Arrival order: by time, but 30% arrive up to 20 minutes late.
  const arrivals = scores
    .map((x) => ({ x, at: x.ts_ms + (rnd() < 0.3 ? Math.floor(rnd() * 20 * 60_000) : 0) }))
    .sort((a, b) => a.at - b.at);
  const state = new SentimentFeatureState();
  const arrived: Sentiment[] = [];
  let k = 0;
  let maxHeld = 0;
  for (let t = T0; t <= T0 + 80 * H; t += 5 * 60_000) {
    while (k < arrivals.length && arrivals[k]!.at <= t) {
      state.add(arrivals[k]!.x);
      arrived.push(arrivals[k]!.x);
      k++;
    }
    for (const coin of ['BTC', 'ETH']) {
      assert.deepEqual(state.at(coin, t), sentimentFeaturesAt(arrived, coin, t), `t=${t} ${coin}`);
    }
    maxHeld = Math.max(maxHeld, state.size);
  }
  assert.ok(maxHeld < arrived.length, `memory is bounded by the window: held ${maxHeld} of ${arrived.length}`);
  assert.throws(() => state.at('BTC', T0), /backwards/);
});
