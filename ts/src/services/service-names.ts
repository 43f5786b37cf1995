/**
 * The names of the services in registry.ts, in its (pipeline) order, for the
 * command line's help: importing the registry loads every service, which
 * `tickcast --help` and the commands other than `run` need not pay for.
 * ts/test/ops/service-names.test.ts checks that this list equals the registry's keys.
 */
export const SERVICE_NAMES: readonly string[] = ['ingest', 'candles', 'features', 'book', 'news', 'sentiment', 'trainer', 'predictor', 'monitor', 'api', 'heartbeat'];
