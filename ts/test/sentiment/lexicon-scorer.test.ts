import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { validate } from '../../src/contracts/codec.ts';
import { detectCoins } from '../../src/sentiment/coins.ts';
import { lexiconOutput, lexiconScore, lexiconScorer, LEXICON } from '../../src/sentiment/lexicon-scorer.ts';
import { SentimentOutput } from '../../src/sentiment/sentiment-output.ts';
import { scorerFromEnv, LLM_HOWTO } from '../../src/sentiment/scorer-from-env.ts';
import { Writable } from 'node:stream';

test('coin detection: names case-insensitive, tickers only in upper case, no false friends', () => {
  assert.deepEqual(detectCoins('Bitcoin and ether rally; SOL follows'), ['BTC', 'ETH', 'SOL']);
  assert.deepEqual(detectCoins('$XRP and BTC-USD pair'), ['BTC', 'XRP']);
  assert.deepEqual(detectCoins('The sol rises; a link to the dot com'), []);
  assert.deepEqual(detectCoins('Ethereum’s upgrade, Dogecoin memes, Cardano'), ['ETH', 'DOGE', 'ADA']);
  assert.deepEqual(detectCoins('ETHICS board; BTCS stock'), []);
});

test('word weights add up through tanh(sum / 3)', () => {
  const r = lexiconScore('Bitcoin surges');
  assert.equal(r.sum, LEXICON.surges);
  assert.equal(r.score, Math.tanh(LEXICON.surges! / 3));
  assert.equal(lexiconScore('The company is based in Helsinki').score, 0);
});

test('negation flips and damps the next sentiment word only', () => {
  assert.equal(lexiconScore('did not rally').sum, -0.75 * LEXICON.rally!);
  assert.equal(lexiconScore("Solana didn't rally").sum, -0.75 * LEXICON.rally!);
  // The negator is used up by the first word: "hack" keeps its sign.
  assert.equal(lexiconScore('not a crash after the hack').sum, -0.75 * LEXICON.crash! + LEXICON.hack!);
  // Out of range (more than 3 tokens after): no flip.
  assert.equal(lexiconScore('no one in the market expected a rally').sum, LEXICON.rally!);
});

test('phrases, intensifiers and burden + direction pairs', () => {
  assert.equal(lexiconScore('BTC hits all-time high').sum, LEXICON.all_time_high);
  assert.equal(lexiconScore('Broad sell-off').sum, LEXICON.sell_off);
  assert.equal(lexiconScore('shares fell sharply').sum, LEXICON.fell!);
  assert.equal(lexiconScore('sharply fell').sum, LEXICON.fell! * 1.5);
  assert.equal(lexiconScore('Operating loss narrowed to EUR 1.2 mn').sum, 1.5);
  assert.equal(lexiconScore('Net debt increased').sum, -1.5);
  assert.ok(lexiconScore('Operating profit rose to EUR 31 mn').score > 0.5);
});

test('lexicon output: schema-valid, same score for every mentioned coin, coins not mentioned omitted', async () => {
  const out = lexiconOutput({ title: 'Bitcoin plunges as exchange hacked', summary: 'Ether also slides' });
  assert.ok(validate(SentimentOutput, out).ok);
  assert.deepEqual(out.coins.map((c) => c.coin), ['BTC', 'ETH']);
  assert.ok(out.overall < -0.9);
  assert.ok(out.coins.every((c) => c.score === out.overall && c.reason.startsWith('lexicon: ')));
  const none = lexiconOutput({ title: 'Fed holds meeting', summary: '' });
  assert.deepEqual(none, { overall: 0, coins: [] });
  const r = await lexiconScorer().score({ title: 'Bitcoin rallies', summary: '' });
  assert.deepEqual(r.usage, { prompt_tokens: 0, completion_tokens: 0 });
});

test('scorerFromEnv: lexicon with a one-line how-to when no LLM is configured; LLM when it is', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const lex = scorerFromEnv({}, logger);
  assert.equal(lex.model, 'lexicon-v1');
  assert.equal(lex.kind, 'lexicon');
  const howto = lines.map((l) => JSON.parse(l).msg as string).filter((m) => m.includes(LLM_HOWTO));
  assert.equal(howto.length, 1);
  assert.ok(!howto[0]!.includes('\n'));
  const llm = scorerFromEnv({ TICKCAST_LLM_BASE_URL: 'http://127.0.0.1:1/v1', TICKCAST_LLM_MODEL: 'llama3.1:8b' }, logger);
  assert.equal(llm.model, 'llama3.1:8b');
  assert.equal(llm.kind, 'llm');
  assert.throws(() => scorerFromEnv({ TICKCAST_LLM_MODEL: 'x' }, logger), /TICKCAST_LLM_BASE_URL/);
});

test('bundled sample through the lexicon pipeline: valid Sentiment messages at the news time; DLQ shape', async () => {
  const { loadNewsSample } = await import('../../src/news/replay-source.ts');
  const { SentimentPipeline, rejectedToDeadLetter } = await import('../../src/sentiment/sentiment-pipeline.ts');
  const { Sentiment, DeadLetter } = await import('../../src/contracts/messages.ts');
  const news = loadNewsSample();
  const p = new SentimentPipeline({ scorer: lexiconScorer(), logger: pino({ level: 'silent' }), onReject: () => assert.fail('no reject') });
  const out = (await Promise.all(news.map((n) => p.process(n)))).flat();
  assert.ok(out.length > 50, `expected many coin scores, got ${out.length}`);
  const byId = new Map(news.map((n) => [n.id, n]));
  for (const m of out) {
    assert.ok(validate(Sentiment, m).ok, JSON.stringify(m));
    assert.equal(m.ts_ms, byId.get(m.news_id)!.published_ms);
    assert.equal(m.model, 'lexicon-v1');
  }
  const dl = rejectedToDeadLetter({ news: news[0]!, kind: 'timeout', reason: 'timeout: x (after 4 attempts)', attempts: 4 }, 1_800_000_000_000);
  assert.ok(validate(DeadLetter, dl).ok);
  assert.deepEqual(JSON.parse(dl.payload), news[0]);
});
