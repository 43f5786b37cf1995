import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  classOf,
  classificationReport,
  confusionMatrix,
  percentile,
  type SentimentClass,
} from '../../src/sentiment/eval-metrics.ts';
import {
  decodeUtf8OrLatin1,
  loadCryptoPanicVotes,
  loadPhraseBank,
  parseCryptoPanicVotes,
  parsePhraseBank,
} from '../../src/sentiment/eval-datasets.ts';
import { evaluateSentiment, runSentimentEval } from '../../src/sentiment/sentiment-eval.ts';
import { llmScorer } from '../../src/sentiment/llm-scorer.ts';
import type { SentimentScorer } from '../../src/sentiment/sentiment-output.ts';
import { FAKE_USAGE, startOpenAiFake, type OpenAiFake } from '../fixtures/openai-fake.ts';
import { testData } from '../fixtures/test-data.ts';

const logger = pino({ level: 'silent' });
// PhraseBank (CC BY-NC-SA): fetched into the build cache; CryptoPanic votes: committed (data/test/README.md).
const fpb = (file: string) => testData(`news-labeled/FinancialPhraseBank-v1.0/${file}`);
const cp = () => testData('news-labeled/cryptopanic_headlines_votes_2025-11_2026-02_cols.csv');

test('class threshold: |s| < 0.1 neutral, boundaries inclusive to the signed classes', () => {
  assert.equal(classOf(0), 'neutral');
  assert.equal(classOf(0.0999), 'neutral');
  assert.equal(classOf(-0.0999), 'neutral');
  assert.equal(classOf(0.1), 'positive');
  assert.equal(classOf(-0.1), 'negative');
  assert.equal(classOf(0.3, 0.5), 'neutral');
});

test('metrics on a hand-computed confusion case', () => {
  // truth: 4 neg, 3 neu, 3 pos; predictions chosen by hand.
  const truth: SentimentClass[] = ['negative', 'negative', 'negative', 'negative', 'neutral', 'neutral', 'neutral', 'positive', 'positive', 'positive'];
  const pred: SentimentClass[] = ['negative', 'negative', 'neutral', 'positive', 'neutral', 'neutral', 'negative', 'positive', 'positive', 'neutral'];
  const cm = confusionMatrix(truth, pred);
  assert.deepEqual(cm, [
    [2, 1, 1],
    [1, 2, 0],
    [0, 1, 2],
  ]);
  const r = classificationReport(cm);
  assert.equal(r.n, 10);
  assert.equal(r.accuracy, 0.6); // 6 correct of 10
  // negative: P = 2/3, R = 2/4, F1 = 2·(2/3)(1/2)/(2/3+1/2) = 4/7
  // neutral:  P = 2/4, R = 2/3, F1 = 4/7
  // positive: P = 2/3, R = 2/3, F1 = 2/3
  assert.ok(Math.abs(r.per_class.negative.f1 - 4 / 7) < 1e-12);
  assert.ok(Math.abs(r.per_class.neutral.f1 - 4 / 7) < 1e-12);
  assert.ok(Math.abs(r.per_class.positive.f1 - 2 / 3) < 1e-12);
  assert.ok(Math.abs(r.macro_f1 - (4 / 7 + 4 / 7 + 2 / 3) / 3) < 1e-12);
  assert.equal(r.per_class.negative.support, 4);
});

test('metrics edge cases: a class never predicted, a class absent everywhere, empty input', () => {
  // Binary truth (no neutral anywhere): macro over the 2 present classes.
  const r = classificationReport(confusionMatrix(['positive', 'positive', 'negative'], ['positive', 'negative', 'negative']));
  // positive: P = 1/1, R = 1/2 → F1 = 2/3; negative: P = 1/2, R = 1/1 → F1 = 2/3
  assert.ok(Math.abs(r.macro_f1 - 2 / 3) < 1e-12);
  assert.equal(r.per_class.neutral.f1, 0);
  // Neutral predicted but never true: it counts, with F1 0.
  const r2 = classificationReport(confusionMatrix(['positive', 'negative'], ['neutral', 'negative']));
  // negative F1 = 1, positive F1 = 0 (recall 0), neutral F1 = 0 → macro = 1/3
  assert.ok(Math.abs(r2.macro_f1 - 1 / 3) < 1e-12);
  assert.equal(r2.accuracy, 0.5);
  const e = classificationReport(confusionMatrix([], []));
  assert.equal(e.n, 0);
  assert.equal(e.accuracy, 0);
  assert.equal(e.macro_f1, 0);
  assert.throws(() => confusionMatrix(['neutral'], []), RangeError);
});

test('nearest-rank percentiles', () => {
  const v = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
  assert.equal(percentile(v, 50), 5);
  assert.equal(percentile(v, 99), 10);
  assert.equal(percentile(v, 10), 1);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('PhraseBank: Latin-1 and UTF-8 files decode; label counts match the dataset README', () => {
  const all = loadPhraseBank(fpb('Sentences_AllAgree.txt'));
  const fifty = loadPhraseBank(fpb('Sentences_50Agree.txt'));
  const counts = (d: typeof all) => ['negative', 'neutral', 'positive'].map((c) => d.items.filter((i) => i.label === c).length);
  assert.deepEqual([all.items.length, ...counts(all)], [2264, 303, 1391, 570]);
  assert.deepEqual([fifty.items.length, ...counts(fifty)], [4846, 604, 2879, 1363]);
  assert.equal(fifty.skipped, 0);
  assert.equal(decodeUtf8OrLatin1(readFileSync(fpb('Sentences_50Agree.txt'))).encoding, 'latin1');
  assert.equal(decodeUtf8OrLatin1(readFileSync(fpb('Sentences_AllAgree.txt'))).encoding, 'utf-8');
  // Latin-1 bytes 0xF1 decode to 'ñ' (not U+FFFD).
  assert.ok(fifty.items.some((i) => i.title.includes('Sepp+ñl+ñ')));
  assert.ok(!fifty.items.some((i) => i.title.includes('\uFFFD')));
  // A sentence containing '@' keeps it: the label is after the last '@'.
  assert.deepEqual(parsePhraseBank('mail me @ home is good@positive\nbad line\n').items, [
    { title: 'mail me @ home is good', summary: '', label: 'positive' },
  ]);
});

test('CryptoPanic votes: positive > negative → positive, reverse → negative, ties skipped; counts match the README', () => {
  const d = loadCryptoPanicVotes(cp());
  assert.equal(d.items.filter((i) => i.label === 'positive').length, 109);
  assert.equal(d.items.filter((i) => i.label === 'negative').length, 144);
  assert.equal(d.items.length + d.skipped, 4173);
  const small = parseCryptoPanicVotes('title,votes_positive,votes_negative\nA,2,1\nB,0,3\nC,1,1\nD,0,0\n');
  assert.deepEqual(small.items.map((i) => [i.title, i.label]), [['A', 'positive'], ['B', 'negative']]);
  assert.equal(small.skipped, 2);
});

let fake: OpenAiFake;
before(async () => {
  fake = await startOpenAiFake();
});
after(async () => {
  await fake.close();
});

test('evaluateSentiment with an LLM: confusion from the scorer, tokens × price = cost per item', async () => {
  const dataset = parsePhraseBank('Bitcoin news@positive\nEther news@negative\nNothing here@neutral\nBitcoin again@negative\n');
  const scorer = llmScorer({ baseURL: fake.baseURL, model: 'eval-model', apiKey: 'k' });
  const before = fake.count();
  const r = await evaluateSentiment({ dataset, scorer, pricing: { prompt_per_mtok: 0.15, completion_per_mtok: 0.6 } });
  assert.equal(fake.count() - before, 4);
  // The fake scores overall +0.6 for "bitcoin", -0.4 for "ether", 0 otherwise.
  assert.deepEqual(r.confusion.rows_true_cols_pred, [
    [1, 0, 1],
    [0, 1, 0],
    [0, 0, 1],
  ]);
  assert.equal(r.accuracy, 0.75);
  assert.deepEqual(r.tokens, { prompt: 4 * FAKE_USAGE.prompt_tokens, completion: 4 * FAKE_USAGE.completion_tokens });
  const perItem = (FAKE_USAGE.prompt_tokens * 0.15 + FAKE_USAGE.completion_tokens * 0.6) / 1e6;
  assert.ok(Math.abs(r.cost_per_item_usd - perItem) < 1e-15);
  assert.ok(r.latency_ms.p50 > 0 && r.latency_ms.p99 >= r.latency_ms.p50);
});

test('evaluateSentiment: a failing item is retried, then counted as failed and left out of the metrics', async () => {
  const dataset = parsePhraseBank('Bitcoin [scenario:server-error]@positive\nBitcoin ok@positive\n');
  const scorer = llmScorer({ baseURL: fake.baseURL, model: 'eval-model', apiKey: 'k' });
  const before = fake.count('server-error');
  const r = await evaluateSentiment({ dataset, scorer, maxAttempts: 2 });
  assert.equal(fake.count('server-error') - before, 2);
  assert.equal(r.failed, 1);
  assert.equal(r.n, 1);
  assert.equal(r.accuracy, 1);
});

test('runSentimentEval: lexicon by default (no LLM env), --limit, prints the table and writes the same JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-eval-'));
  try {
    const out = join(dir, 'report.json');
    let printed = '';
    const r = await runSentimentEval({
      dataset: fpb('Sentences_AllAgree.txt'),
      limit: 50,
      out,
      env: {},
      logger,
      print: (t) => (printed += t),
    });
    assert.equal(r.model, 'lexicon-v1');
    assert.equal(r.n, 50);
    assert.equal(r.cost_per_item_usd, 0);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(json.n, 50);
    assert.equal(json.accuracy, r.accuracy);
    assert.deepEqual(json.confusion.rows_true_cols_pred, r.confusion.rows_true_cols_pred);
    assert.equal(r.confusion.rows_true_cols_pred.flat().reduce((a, b) => a + b, 0), 50);
    assert.match(printed, /accuracy \d+\.\d%\s+macro-F1 \d\.\d{3}/);
    assert.match(printed, /latency per item: p50 .* p99/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a scorer with a fixed answer gives the expected confusion (harness independent of the scorer)', async () => {
  const always = (overall: number): SentimentScorer => ({
    model: 'const',
    kind: 'lexicon',
    score: async () => ({ output: { overall, coins: [] }, usage: { prompt_tokens: 0, completion_tokens: 0 } }),
  });
  const dataset = parsePhraseBank('a@positive\nb@neutral\nc@negative\nd@positive\n');
  const r = await evaluateSentiment({ dataset, scorer: always(0.5) });
  assert.deepEqual(r.confusion.rows_true_cols_pred, [
    [0, 0, 1],
    [0, 0, 1],
    [0, 0, 2],
  ]);
  assert.equal(r.accuracy, 0.5);
  // positive: P = 2/4, R = 1, F1 = 2/3; the others F1 = 0 → macro = 2/9
  assert.ok(Math.abs(r.macro_f1 - 2 / 9) < 1e-12);
});
