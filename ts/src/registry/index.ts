/** The model registry of a configuration: folder (embedded) or Elasticsearch (production). */
import type { Config } from '../config/config.ts';
import { folderRegistry } from './folder-registry.ts';
import { elasticsearchRegistry } from './elasticsearch-registry.ts';
import type { ModelRegistry } from './model-registry.ts';

export { ModelRegistry, RegistryError, type RegistryBackend, type StoredModel } from './model-registry.ts';
export { ModelMeta, ProductionAlias, type ModelStatus } from './model-meta.ts';
export { folderRegistry, FolderRegistryBackend } from './folder-registry.ts';
export { elasticsearchRegistry, EsRegistryBackend } from './elasticsearch-registry.ts';
export { decidePromotion, registerCandidate, type Decision } from './promotion.ts';

export function registryOf(config: Config): ModelRegistry {
  if (config.store === 'elasticsearch') {
    if (!config.esUrl) throw new Error('TICKCAST_ES_URL is required for the elasticsearch model registry');
    const auth =
      config.esApiKey !== undefined
        ? { apiKey: config.esApiKey }
        : config.esUsername !== undefined && config.esPassword !== undefined
          ? { username: config.esUsername, password: config.esPassword }
          : undefined;
    return elasticsearchRegistry({ node: config.esUrl, indexPrefix: config.esIndexPrefix, ...(auth ? { auth } : {}) });
  }
  return folderRegistry(config.dataDir);
}
