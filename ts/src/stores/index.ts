/**
 * The stores' front door: open the embedded (SQLite) or the production
 * (Elasticsearch) feature and prediction stores behind the same interfaces.
 * Each backend is loaded only when opened: importing this module loads
 * neither the SQLite binding nor the Elasticsearch client, which the command
 * line would otherwise pay for at every start. (`indexNames` and `mappingOf`
 * are in elasticsearch-stores.ts.)
 */
import type { Logger } from 'pino';
import type { StoresConfig } from './stores-config.ts';
import type { Stores } from './types.ts';

export { storesConfigOf, type StoresConfig } from './stores-config.ts';

/** Open the stores of a config; close() them when done. */
export async function openStores(config: StoresConfig, logger: Logger): Promise<Stores> {
  if (config.kind === 'sqlite') {
    const { openSqliteStores } = await import('./sqlite-stores.ts');
    return openSqliteStores(config, logger.child({ component: 'sqlite-stores' }));
  }
  const { kind: _kind, ...opts } = config;
  const { openElasticsearchStores } = await import('./elasticsearch-stores.ts');
  return openElasticsearchStores(opts, logger);
}

export { StoreError, isStoreError } from './store-error.ts';
export * from './types.ts';
