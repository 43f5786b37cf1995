/** The model registry of a configuration: folder (embedded) or Elasticsearch (production). */
import type { Config } from '../config/config.ts';
import { folderRegistry } from './folder-registry.ts';
import { elasticsearchRegistry } from './elasticsearch-registry.ts';
import type { ModelRegistry } from './model-registry.ts';
import { storesConfigOf } from '../stores/stores-config.ts';

export { ModelRegistry, RegistryError, type RegistryBackend, type StoredModel } from './model-registry.ts';
export { ModelMeta, ProductionAlias, type ModelStatus } from './model-meta.ts';
export { folderRegistry, FolderRegistryBackend } from './folder-registry.ts';
export { elasticsearchRegistry, EsRegistryBackend } from './elasticsearch-registry.ts';
export { decidePromotion, registerCandidate, type Decision } from './promotion.ts';

export function registryOf(config: Config): ModelRegistry {
  const stores = storesConfigOf(config);
  if (stores.kind === 'elasticsearch') {
    return elasticsearchRegistry({ node: stores.node, indexPrefix: config.esIndexPrefix, ...(stores.auth ? { auth: stores.auth } : {}) });
  }
  return folderRegistry(config.dataDir);
}
