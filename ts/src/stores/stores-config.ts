/**
 * The store settings of a configuration: SQLite in a data folder (embedded)
 * or Elasticsearch (production). Kept apart from the stores themselves so the
 * command line and the runner read them without loading either backend.
 */
import type { Config } from '../config/config.ts';
import type { ElasticsearchStoresOptions } from './elasticsearch-stores.ts';

export type StoresConfig =
  | { kind: 'sqlite'; dataDir: string; fileName?: string }
  | ({ kind: 'elasticsearch' } & ElasticsearchStoresOptions);

/** The store settings of a configuration. */
export function storesConfigOf(config: Config): StoresConfig {
  if (config.store === 'sqlite') return { kind: 'sqlite', dataDir: config.dataDir };
  if (!config.esUrl) throw new Error('TICKCAST_ES_URL is required for the elasticsearch store');
  const auth =
    config.esApiKey !== undefined
      ? { apiKey: config.esApiKey }
      : config.esUsername !== undefined && config.esPassword !== undefined
        ? { username: config.esUsername, password: config.esPassword }
        : undefined;
  return { kind: 'elasticsearch', node: config.esUrl, indexPrefix: config.esIndexPrefix, ...(auth ? { auth } : {}) };
}
