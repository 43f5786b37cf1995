/**
 * The sentiment service: `news` -> scorer (an LLM through the openai SDK, or
 * the lexicon when none is configured) -> `sentiment`; and, as of each candle
 * time t, per coin, time-decayed aggregates of the scores known up to t ->
 * the feature store's sentiment rows (the point-in-time join of training and
 * the predictor reads them as of t).
 *
 * Items the scorer cannot handle (after bounded retries) go to dlq.news.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Service, ServiceContext } from '../services/runner.ts';
import type { Subscription } from '../bus/index.ts';
import type { Candle, News, Sentiment } from '../contracts/messages.ts';
import { Topics } from '../contracts/messages.ts';
import { SentimentPipeline } from '../sentiment/sentiment-pipeline.ts';
import { SentimentFeatureState } from '../sentiment/sentiment-features.ts';
import { scorerFor } from '../sentiment/scorer-from-env.ts';
import { sqliteSentimentCache } from '../sentiment/sentiment-cache.ts';

export interface SentimentServiceOptions {
  dataDir: string;
  llm: { baseUrl?: string; model?: string; apiKey?: string; timeoutMs?: number };
  /** Coins of the configured pairs (BTC of BTC/USD). */
  coins: readonly string[];
}

export function sentimentService(opts: SentimentServiceOptions): Service {
  const subs: Subscription[] = [];
  const states = new Map<string, SentimentFeatureState>();
  const state = (coin: string) => {
    let s = states.get(coin);
    if (!s) states.set(coin, (s = new SentimentFeatureState()));
    return s;
  };
  return {
    name: 'sentiment',
    async start(ctx: ServiceContext) {
      const scorer = scorerFor(opts.llm, ctx.logger);
      mkdirSync(opts.dataDir, { recursive: true });
      const pipeline = new SentimentPipeline({
        scorer,
        logger: ctx.logger,
        cache: sqliteSentimentCache(join(opts.dataDir, 'sentiment-cache.sqlite')),
        onReject: async (r) => {
          await ctx.bus.deadLetter(Topics.news.name, [{ key: r.news.id, payload: JSON.stringify(r.news), reason: r.reason, source: 'sentiment' }]);
          ctx.logger.warn({ news_id: r.news.id, reason: r.reason }, 'news item dead-lettered');
        },
      });
      subs.push(
        await ctx.bus.consume({
          group: 'sentiment',
          topics: ['news'],
          fromBeginning: true,
          handler: async (n: News) => {
            const scores: Sentiment[] = await pipeline.process(n);
            if (scores.length === 0) return;
            await ctx.bus.publish('sentiment', scores);
            for (const s of scores) state(s.coin).add(s);
            ctx.logger.info({ title: n.title.slice(0, 100), scores: scores.map((s) => `${s.coin} ${s.score.toFixed(2)}`).join(', '), model: pipeline.model }, 'sentiment scored');
          },
        }),
      );
      subs.push(
        await ctx.bus.consume({
          group: 'sentiment-features',
          topics: ['candles'],
          fromBeginning: true,
          handler: async (c: Candle) => {
            const coin = c.pair.split('/')[0] as string;
            if (!opts.coins.includes(coin)) return;
            const s = state(coin);
            let row;
            try {
              row = s.at(coin, c.window_end_ms);
            } catch {
              return; // a candle older than one already answered for this coin (a replayed duplicate)
            }
            const stores = await ctx.stores();
            const w = await stores.features.sentiment.write([row]);
            if (w.rejected.length > 0) throw new Error(`sentiment features not stored: ${w.rejected[0]?.error.message}`);
          },
        }),
      );
      ctx.logger.info({ model: pipeline.model, coins: opts.coins }, 'sentiment service consuming news and candles');
    },
    async stop() {
      for (const s of subs.splice(0)) await s.stop();
    },
  };
}
