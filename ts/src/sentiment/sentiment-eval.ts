/**
 * The sentiment evaluation harness: run any scorer over labelled headlines and
 * report accuracy, macro-F1, the confusion matrix (negative/neutral/positive;
 * score → class by the threshold of eval-metrics.ts, default |s| < 0.1 is
 * neutral), latency per item (p50/p99, wall time including retries) and cost
 * per item (tokens × configurable USD prices per million tokens; 0 for the
 * lexicon). `runSentimentEval` is the CLI body of
 * `tickcast sentiment eval --dataset <file> [--limit N] [--out report.json]`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { loadDataset, type Dataset } from './eval-datasets.ts';
import {
  CLASSES,
  DEFAULT_NEUTRAL_THRESHOLD,
  classOf,
  classificationReport,
  confusionMatrix,
  percentile,
  type ClassMetrics,
  type SentimentClass,
} from './eval-metrics.ts';
import { llmSettingsOf, scorerFor } from './scorer-from-env.ts';
import { loadConfig, type Config } from '../config/config.ts';
import { ScorerError, type SentimentScorer } from './sentiment-output.ts';

export interface Pricing {
  /** USD per 1M prompt tokens. */
  prompt_per_mtok: number;
  /** USD per 1M completion tokens. */
  completion_per_mtok: number;
}

export interface EvaluateOptions {
  dataset: Dataset;
  scorer: SentimentScorer;
  limit?: number;
  threshold?: number;
  pricing?: Pricing;
  /** Items scored at once; default 1 for the lexicon, 4 for an LLM. */
  concurrency?: number;
  /** Attempts per item for retryable scorer errors; default 3. */
  maxAttempts?: number;
  /** Called after each item (progress). */
  onItem?: (done: number, total: number) => void;
}

export interface SentimentEvalReport {
  dataset: string;
  model: string;
  scorer: 'llm' | 'lexicon';
  threshold: number;
  /** Items scored (failures excluded). */
  n: number;
  /** Dataset rows without a usable label. */
  skipped: number;
  /** Items whose scoring failed after retries. */
  failed: number;
  accuracy: number;
  macro_f1: number;
  per_class: Record<SentimentClass, ClassMetrics>;
  confusion: { labels: readonly SentimentClass[]; rows_true_cols_pred: number[][] };
  latency_ms: { p50: number; p99: number; mean: number };
  tokens: { prompt: number; completion: number };
  pricing: Pricing;
  cost_per_item_usd: number;
  cost_total_usd: number;
}

export async function evaluateSentiment(o: EvaluateOptions): Promise<SentimentEvalReport> {
  const items = o.limit !== undefined ? o.dataset.items.slice(0, Math.max(0, o.limit)) : o.dataset.items;
  const threshold = o.threshold ?? DEFAULT_NEUTRAL_THRESHOLD;
  const pricing = o.pricing ?? { prompt_per_mtok: 0, completion_per_mtok: 0 };
  const maxAttempts = Math.max(1, o.maxAttempts ?? 3);
  const concurrency = Math.max(1, o.concurrency ?? (o.scorer.kind === 'llm' ? 4 : 1));
  const pred: (SentimentClass | undefined)[] = new Array(items.length);
  const latency: number[] = [];
  let prompt = 0;
  let completion = 0;
  let failed = 0;
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      const it = items[i]!;
      const t0 = performance.now();
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        try {
          const r = await o.scorer.score({ title: it.title, summary: it.summary });
          prompt += r.usage.prompt_tokens;
          completion += r.usage.completion_tokens;
          pred[i] = classOf(r.output.overall, threshold);
          latency.push(performance.now() - t0);
          break;
        } catch (e) {
          if (e instanceof ScorerError && e.usage) {
            prompt += e.usage.prompt_tokens;
            completion += e.usage.completion_tokens;
          }
          const retryable = e instanceof ScorerError && e.retryable;
          if (!retryable || attempt === maxAttempts) {
            failed++;
            break;
          }
          await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** (attempt - 1), (e as ScorerError).retryAfterMs ?? Infinity)));
        }
      }
      o.onItem?.(++done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, items.length)) }, worker));
  const truth: SentimentClass[] = [];
  const got: SentimentClass[] = [];
  items.forEach((it, i) => {
    const p = pred[i];
    if (p) {
      truth.push(it.label);
      got.push(p);
    }
  });
  const rep = classificationReport(confusionMatrix(truth, got));
  const cost = (prompt * pricing.prompt_per_mtok + completion * pricing.completion_per_mtok) / 1e6;
  return {
    dataset: o.dataset.name,
    model: o.scorer.model,
    scorer: o.scorer.kind,
    threshold,
    n: rep.n,
    skipped: o.dataset.skipped,
    failed,
    accuracy: rep.accuracy,
    macro_f1: rep.macro_f1,
    per_class: rep.per_class,
    confusion: { labels: CLASSES, rows_true_cols_pred: rep.confusion },
    latency_ms: {
      p50: percentile(latency, 50),
      p99: percentile(latency, 99),
      mean: latency.length ? latency.reduce((a, b) => a + b, 0) / latency.length : Number.NaN,
    },
    tokens: { prompt, completion },
    pricing,
    cost_per_item_usd: rep.n + failed ? cost / (rep.n + failed) : 0,
    cost_total_usd: cost,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ms = (x: number) => (Number.isFinite(x) ? (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(1)} ms`) : 'n/a');

/** The report as text, as printed by the CLI. */
export function formatEvalReport(r: SentimentEvalReport): string {
  const w = 10;
  const pad = (s: string | number) => String(s).padStart(w);
  const lines = [
    `sentiment eval: ${r.dataset}  model ${r.model} (${r.scorer})  neutral if |score| < ${r.threshold}`,
    `items ${r.n}  (skipped rows ${r.skipped}, failed ${r.failed})`,
    `accuracy ${pct(r.accuracy)}   macro-F1 ${r.macro_f1.toFixed(3)}`,
    '',
    `confusion (rows = true, cols = predicted)`,
    `${''.padStart(w)}${r.confusion.labels.map(pad).join('')}`,
    ...r.confusion.rows_true_cols_pred.map((row, i) => `${pad(r.confusion.labels[i]!)}${row.map(pad).join('')}`),
    '',
    `${''.padStart(w)}${pad('precision')}${pad('recall')}${pad('F1')}${pad('support')}`,
    ...CLASSES.map((c) => {
      const m = r.per_class[c];
      return `${pad(c)}${pad(m.precision.toFixed(3))}${pad(m.recall.toFixed(3))}${pad(m.f1.toFixed(3))}${pad(m.support)}`;
    }),
    '',
    `latency per item: p50 ${ms(r.latency_ms.p50)}  p99 ${ms(r.latency_ms.p99)}`,
    `tokens: prompt ${r.tokens.prompt}  completion ${r.tokens.completion}   cost per item $${r.cost_per_item_usd.toFixed(6)} (total $${r.cost_total_usd.toFixed(4)})`,
  ];
  return lines.join('\n');
}

export interface RunSentimentEvalOptions {
  /** Path of a PhraseBank `.txt` or a CryptoPanic votes `.csv`. */
  dataset: string;
  limit?: number;
  /** Where to write the JSON report. */
  out?: string;
  threshold?: number;
  /** USD per 1M tokens; default from the configuration (TICKCAST_LLM_PRICE_PROMPT_PER_MTOK / _COMPLETION_PER_MTOK, default 0). */
  pricePromptPerMTok?: number;
  priceCompletionPerMTok?: number;
  concurrency?: number;
  /** Default: from the configuration (TICKCAST_LLM_*), the lexicon when no LLM is configured. */
  scorer?: SentimentScorer;
  /** The validated configuration (the CLI passes it); else read from `env` (default process environment). */
  config?: Config;
  env?: Record<string, string | undefined>;
  logger?: Logger;
  print?: (text: string) => void;
}

/** CLI body: load, evaluate, print the table, write the JSON. Returns the report. */
export async function runSentimentEval(o: RunSentimentEvalOptions): Promise<SentimentEvalReport> {
  const config = o.config ?? loadConfig(o.env !== undefined ? { env: o.env } : {});
  const logger = o.logger ?? pino({ level: 'info' });
  const scorer = o.scorer ?? scorerFor(llmSettingsOf(config), logger);
  const dataset = loadDataset(o.dataset);
  const report = await evaluateSentiment({
    dataset,
    scorer,
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    pricing: {
      prompt_per_mtok: o.pricePromptPerMTok ?? config.llmPricePromptPerMTok,
      completion_per_mtok: o.priceCompletionPerMTok ?? config.llmPriceCompletionPerMTok,
    },
  });
  (o.print ?? ((t: string) => process.stdout.write(`${t}\n`)))(formatEvalReport(report));
  if (o.out) {
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, `${JSON.stringify(report, null, 2)}\n`);
  }
  return report;
}
