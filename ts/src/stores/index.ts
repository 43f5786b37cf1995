/**
 * The stores' front door: open the embedded (SQLite) or the production
 * (Elasticsearch) feature and prediction stores behind the same interfaces.
 */
import type { Logger } from 'pino';
import { openElasticsearchStores, type ElasticsearchStoresOptions } from './elasticsearch-stores.ts';
import { openSqliteStores } from './sqlite-stores.ts';
import type { Stores } from './types.ts';

export type StoresConfig =
  | { kind: 'sqlite'; dataDir: string; fileName?: string }
  | ({ kind: 'elasticsearch' } & ElasticsearchStoresOptions);

/** Open the stores of a config; close() them when done. */
export async function openStores(config: StoresConfig, logger: Logger): Promise<Stores> {
  if (config.kind === 'sqlite') {
    return openSqliteStores(config, logger.child({ component: 'sqlite-stores' }));
  }
  const { kind: _kind, ...opts } = config;
  return openElasticsearchStores(opts, logger);
}

export { StoreError, isStoreError } from './store-error.ts';
export * from './types.ts';
export { indexNames, mappingOf } from './elasticsearch-stores.ts';
