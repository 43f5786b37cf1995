/**
 * The services a process can run, by name, in pipeline order (upstream first:
 * `run all` starts them in this order and stops them in this order, so each
 * stage's last output reaches the next). Later issues add ingest, candles,
 * features, sentiment, predictor, monitor, api here.
 */
import type { Service, ServiceContext } from './runner.ts';
import { register, Gauge } from 'prom-client';
import { loadConfig, type Config } from '../config/config.ts';
import { ingestService } from '../pipeline/ingest-service.ts';
import { candlesService } from '../pipeline/candles-service.ts';
import { featuresService } from '../pipeline/features-service.ts';
import { bookService } from '../pipeline/book-service.ts';
import { DEFAULT_FEATURES } from '../pipeline/feature-stage.ts';
import { newsService } from '../pipeline/news-service.ts';
import { sentimentService } from '../pipeline/sentiment-service.ts';
import { apiService } from '../api/api-service.ts';
import { predictorService } from '../pipeline/predictor-service.ts';
import { trainerService } from '../pipeline/trainer-service.ts';
import { join } from 'node:path';
import { monitorService } from '../pipeline/monitor-service.ts';
import { loadRules } from '../monitor/alert-rules.ts';

export type ServiceFactory = (config: Config) => Service;

/** A trivial liveness service: logs and sets a gauge every interval. */
export function heartbeat(intervalMs = 10_000): Service {
  let timer: NodeJS.Timeout | null = null;
  const gauge =
    (register.getSingleMetric('tickcast_heartbeat_timestamp_seconds') as Gauge | undefined) ??
    new Gauge({ name: 'tickcast_heartbeat_timestamp_seconds', help: 'Unix time of the last heartbeat of the process' });
  return {
    name: 'heartbeat',
    async start(ctx: ServiceContext) {
      const beat = () => {
        gauge.set(Date.now() / 1000);
        ctx.logger.debug('heartbeat');
      };
      beat();
      timer = setInterval(beat, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}

const featureList = (c: Config) => (c.features.length > 0 ? c.features : DEFAULT_FEATURES);

export const registry: ReadonlyMap<string, ServiceFactory> = new Map<string, ServiceFactory>([
  [
    'ingest',
    (c) =>
      ingestService({
        source: c.ingestSource,
        pairs: c.pairs,
        replayFiles: c.replayFiles,
        // Offline, the embedded run loops the bundled sample so it keeps producing.
        replayLoop: c.ingestSource === 'auto',
        replaySpeed: c.replaySpeed === 'max' ? 'max' : Number(c.replaySpeed),
        ...(c.krakenWsUrl ? { krakenWsUrl: c.krakenWsUrl } : {}),
        ...(c.krakenRestUrl ? { krakenRestUrl: c.krakenRestUrl } : {}),
        kraken: { subscribeBatch: c.krakenSubscribeBatch, pairsPerConnection: c.krakenPairsPerConnection, subscribeIntervalMs: c.krakenSubscribeIntervalMs },
        closeTicks: { intervalMs: c.candleIntervalS * 1000, graceMs: c.candleGraceMs },
      }),
  ],
  [
    'candles',
    (c) =>
      candlesService({
        intervalS: c.candleIntervalS,
        graceMs: c.candleGraceMs,
        // On Kafka the trades outlive the process: the checkpoint plus the committed offsets resume exactly.
        // The in-process bus starts empty and the offline replay restarts from its first trade, so no checkpoint there.
        ...(c.bus === 'kafka' ? { checkpointPath: join(c.dataDir, 'candles.checkpoint') } : {}),
      }),
  ],
  ['features', (c) => featuresService({ intervalS: c.candleIntervalS, features: featureList(c) })],
  [
    'book',
    (c) =>
      bookService({
        source: c.bookSource,
        ...(c.bookReplayFile ? { replayFile: c.bookReplayFile } : {}),
        pairs: c.bookPairs,
        followed: c.pairs,
        depth: c.bookDepth,
        ...(c.krakenWsUrl ? { krakenWsUrl: c.krakenWsUrl } : {}),
      }),
  ],
  [
    'news',
    (c) =>
      newsService({
        dataDir: c.dataDir,
        // The bundled headlines span three days: replay them at 3600x (about a minute and a quarter).
        replaySpeed: c.replaySpeed === 'max' ? 'max' : 3600,
        ...(c.cryptopanicToken ? { cryptopanicToken: c.cryptopanicToken } : {}),
      }),
  ],
  [
    'sentiment',
    (c) =>
      sentimentService({
        dataDir: c.dataDir,
        coins: [...new Set(c.pairs.map((p) => p.split('/')[0] as string))],
        llm: {
          ...(c.llmBaseUrl ? { baseUrl: c.llmBaseUrl } : {}),
          ...(c.llmModel ? { model: c.llmModel } : {}),
          ...(c.llmApiKey ? { apiKey: c.llmApiKey } : {}),
          timeoutMs: c.llmTimeoutMs,
        },
      }),
  ],
  ['trainer', (c) => trainerService(c)],
  // Embedded: a pair whose range model did not beat the Gaussian-EWMA baseline is served that baseline's bands.
  ['predictor', (c) => predictorService({ rangeBaseline: c.mode === 'embedded' })],
  [
    'monitor',
    (c) =>
      monitorService({
        pairs: c.pairs,
        intervalS: c.candleIntervalS,
        rules: loadRules(c.alertRulesFile),
        modelExpiry: { maxAgeHours: c.modelMaxAgeHours },
        stateFile: join(c.dataDir, 'monitor', 'snapshot.json'),
        notify: {
          ...(c.alertSlackUrl ? { slackUrl: c.alertSlackUrl } : {}),
          ...(c.alertDiscordUrl ? { discordUrl: c.alertDiscordUrl } : {}),
          ...(c.alertWebhookUrl ? { webhookUrl: c.alertWebhookUrl } : {}),
          ...(c.dashboardUrl ? { dashboardUrl: c.dashboardUrl } : {}),
        },
      }),
  ],
  ['api', () => apiService()],
  ['heartbeat', () => heartbeat()],
]);

/** Services for names given on the command line; `all` = every registered service. */
export function resolveServices(
  names: readonly string[],
  from: ReadonlyMap<string, ServiceFactory> = registry,
  config: Config = loadConfig({ env: {} }),
): Service[] {
  if (names.length === 0) throw new Error(`name at least one service, or all; known: ${[...from.keys()].join(', ')}`);
  const wanted = names.includes('all') ? [...from.keys()] : [...new Set(names)];
  const unknown = wanted.filter((n) => !from.has(n));
  if (unknown.length > 0) throw new Error(`unknown service(s): ${unknown.join(', ')}; known: ${[...from.keys()].join(', ')}, or all`);
  // Pipeline order, whatever order the names were given in.
  const order = [...from.keys()];
  wanted.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return wanted.map((n) => (from.get(n) as ServiceFactory)(config));
}
