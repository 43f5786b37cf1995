/**
 * The `tickcast` command line.
 *   tickcast run <service...|all>   run services in one process
 *   tickcast topics create          create the Kafka topics (and dlq.<topic>)
 *   tickcast config                 print the validated configuration, secrets redacted
 *   tickcast record --out <f.gz>    record raw order-book frames (Kraken v2 book, Binance depth)
 *   tickcast replay-book <f.gz>     the book features of a recording, as the live run computed them
 * Settings come from TICKCAST_* environment variables (and TICKCAST_CONFIG=<file.json>).
 */
import { Command, CommanderError } from 'commander';
import { loadConfig, redactConfig, describeConfig, ConfigError, type Config } from './config/config.ts';
import { SERVICE_NAMES } from './services/service-names.ts';
import { addBackfillCommand } from './pipeline/backfill-command.ts';
import { addKibanaCommand } from './monitor/kibana.ts';
import { addTrainCommand, addModelsCommand } from './training/train-command.ts';
import { addBookCommands } from './sources/book-command.ts';
// Only the command definitions are loaded up front. What a command runs (the
// services, Kafka, the stores, the models, ...) is imported in its action, so
// `--help` and each command load only what they use.

/** Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration. */
const EXIT_USAGE = 2;

function configOrExit(file: string | undefined): Config {
  try {
    return loadConfig(file ? { file } : {});
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tickcast: ${e.message}\n(see \`tickcast config --help\` for every variable)\n`);
      process.exit(EXIT_USAGE);
    }
    throw e;
  }
}

export function buildCli(): Command {
  const program = new Command('tickcast')
    .description('Real-time crypto price prediction, 5 minutes ahead: run services, manage topics, inspect configuration.')
    .option('-c, --config <file>', 'a JSON file of TICKCAST_* settings (same as TICKCAST_CONFIG; the environment wins)')
    .showHelpAfterError()
    .addHelpText('after', '\nConfiguration is read from TICKCAST_* environment variables; `tickcast config --help` lists them.');

  const file = () => program.opts<{ config?: string }>().config;

  program
    .command('run')
    .description('run services in this process until SIGTERM/SIGINT (graceful shutdown, exit 0)')
    .argument('<service...>', `service names or "all"; known: ${SERVICE_NAMES.join(', ')}`)
    .addHelpText(
      'after',
      '\nServes /metrics, /healthz and /readyz on TICKCAST_HTTP_HOST:TICKCAST_HTTP_PORT.\nExamples:\n  tickcast run all\n  TICKCAST_MODE=production TICKCAST_KAFKA_BROKERS=kafka:9092 TICKCAST_ES_URL=http://es:9200 tickcast run heartbeat',
    )
    .action(async (names: string[]) => {
      const config = configOrExit(file());
      const [{ createLogger }, { registry, resolveServices }, { runProcess }] = await Promise.all([
        import('./ops/logger.ts'),
        import('./services/registry.ts'),
        import('./services/runner.ts'),
      ]);
      const logger = createLogger({ level: config.logLevel });
      let services;
      try {
        services = resolveServices(names, registry, config);
      } catch (e) {
        process.stderr.write(`tickcast run: ${(e as Error).message}\n`);
        process.exit(EXIT_USAGE);
      }
      try {
        await runProcess(services, { config, logger });
      } catch (err) {
        logger.fatal({ err }, 'could not start');
        logger.flush(() => process.exit(1));
      }
    });

  const topics = program.command('topics').description('Kafka topics of every stream and its dead letters');
  topics
    .command('create')
    .description('create every stream topic and its dlq.<topic> on Kafka (existing topics are left as they are)')
    .addHelpText('after', '\nUses TICKCAST_KAFKA_BROKERS, TICKCAST_KAFKA_PARTITIONS, TICKCAST_KAFKA_REPLICATION_FACTOR, TICKCAST_KAFKA_TOPIC_PREFIX.')
    .action(async () => {
      const config = configOrExit(file());
      if (config.kafkaBrokers.length === 0) {
        process.stderr.write('tickcast topics create: TICKCAST_KAFKA_BROKERS is not set: expected a comma-separated list of host:port\n');
        process.exit(EXIT_USAGE);
      }
      const [{ createLogger }, { allTopicNames, kafkaTransport }] = await Promise.all([import('./ops/logger.ts'), import('./bus/index.ts')]);
      const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel });
      const names = allTopicNames();
      const created = await kafkaTransport(config, logger).createTopics(names);
      const prefix = config.kafkaTopicPrefix;
      for (const n of names) {
        const full = `${prefix}${n}`;
        process.stdout.write(`${created.includes(full) ? 'created ' : 'exists  '} ${full}\n`);
      }
      process.stdout.write(`${created.length} created, ${names.length - created.length} already existed (partitions for new topics: ${config.kafkaPartitions})\n`);
    });

  program
    .command('config')
    .description('print the validated configuration as JSON (secrets redacted); exits 2 naming each bad variable')
    .addHelpText('after', `\nVariables:\n${describeConfig()}\n  TICKCAST_CONFIG: a JSON file with any of the variables above (the environment wins)`)
    .action(() => {
      const config = configOrExit(file());
      process.stdout.write(`${JSON.stringify(redactConfig(config), null, 2)}\n`);
    });

  addBackfillCommand(program, () => configOrExit(file()));
  addKibanaCommand(program, () => configOrExit(file()));
  addTrainCommand(program, () => configOrExit(file()));
  addModelsCommand(program, () => configOrExit(file()));

  program
    .command('stores')
    .description('feature and prediction stores')
    .command('init')
    .description('create the store indices and their mappings (Elasticsearch) or tables (SQLite); idempotent')
    .action(async () => {
      const config = configOrExit(file());
      const { createLogger } = await import('./ops/logger.ts');
      const logger = createLogger({ level: config.logLevel });
      const { openStores, storesConfigOf } = await import('./stores/index.ts');
      const stores = await openStores(storesConfigOf(config), logger);
      await stores.close();
      process.stdout.write(`stores ready (${config.store})\n`);
    });

  addBookCommands(program);

  const sentiment = program.command('sentiment').description('news sentiment tools');
  sentiment
    .command('eval')
    .description('score labelled headlines with the configured scorer (LLM or lexicon): accuracy, macro-F1, confusion matrix, latency, cost')
    .requiredOption('--dataset <file>', 'Financial PhraseBank Sentences_*.txt, or the CryptoPanic votes .csv')
    .option('--limit <n>', 'only the first N items', (v: string) => parseInt(v, 10))
    .option('--out <file>', 'also write the report as JSON')
    .option('--threshold <x>', 'a score with |score| < x counts as neutral', parseFloat, 0.1)
    .action(async (o: { dataset: string; limit?: number; out?: string; threshold: number }) => {
      const config = configOrExit(file());
      const { runSentimentEval } = await import('./sentiment/sentiment-eval.ts');
      await runSentimentEval({ config, dataset: o.dataset, ...(o.limit !== undefined ? { limit: o.limit } : {}), ...(o.out ? { out: o.out } : {}), threshold: o.threshold });
    });
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildCli();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 1 ? EXIT_USAGE : e.exitCode);
    process.stderr.write(`tickcast: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  }
}

await main();
