/**
 * The production registry backend: one Elasticsearch index `<prefix>models`.
 * A version is the document with id = version; the production alias of a
 * pair is the document with id `production|<pair>` (doc_type `alias`); of a
 * (pair, target family) other than the price, `production|<pair>#<family>`.
 * The model text, meta and report are stored (not indexed) in an object with
 * `enabled: false`; a few fields are indexed for listing.
 * Writes use refresh: 'wait_for', so a promotion is visible to the next read.
 */
import { Client, errors } from '@elastic/elasticsearch';
import { aliasKey, type ModelMeta, type ProductionAlias } from './model-meta.ts';
import { checkMeta, ModelRegistry, type RegistryBackend } from './model-registry.ts';

export interface EsRegistryOptions {
  node: string;
  indexPrefix?: string;
  auth?: { apiKey: string } | { username: string; password: string };
  /** An existing client (then node/auth are ignored and close() does not close it). */
  client?: Client;
}

const aliasId = (key: string) => `production|${key}`;

interface VersionDoc {
  doc_type: 'version';
  version: string;
  pair: string;
  status: string;
  created_ms: number;
  blob: { meta: ModelMeta; model_text: string; report_html: string | null };
}
interface AliasDoc {
  doc_type: 'alias';
  pair: string;
  blob: { alias: ProductionAlias };
}

export class EsRegistryBackend implements RegistryBackend {
  readonly kind = 'elasticsearch' as const;
  readonly index: string;
  private readonly client: Client;
  private readonly ownClient: boolean;
  private ready: Promise<void> | null = null;

  constructor(opts: EsRegistryOptions) {
    this.index = `${opts.indexPrefix ?? 'tickcast-'}models`;
    this.ownClient = !opts.client;
    this.client = opts.client ?? new Client({ node: opts.node, ...(opts.auth ? { auth: opts.auth } : {}) });
  }

  private ensure(): Promise<void> {
    this.ready ??= (async () => {
      try {
        await this.client.indices.create({
          index: this.index,
          settings: { number_of_shards: 1, number_of_replicas: 0 },
          mappings: {
            dynamic: false,
            properties: {
              doc_type: { type: 'keyword' },
              version: { type: 'keyword' },
              pair: { type: 'keyword' },
              status: { type: 'keyword' },
              created_ms: { type: 'long' },
              blob: { type: 'object', enabled: false },
            },
          },
        });
      } catch (e) {
        if (!(e instanceof errors.ResponseError && e.body?.error?.type === 'resource_already_exists_exception')) {
          this.ready = null;
          throw e;
        }
      }
    })();
    return this.ready;
  }

  private async getDoc<T>(id: string): Promise<T | null> {
    await this.ensure();
    try {
      const r = await this.client.get<T>({ index: this.index, id });
      return r.found ? (r._source as T) : null;
    } catch (e) {
      if (e instanceof errors.ResponseError && e.statusCode === 404) return null;
      throw e;
    }
  }

  async putVersion(meta: ModelMeta, modelText: string, reportHtml: string | null): Promise<void> {
    await this.ensure();
    const doc: VersionDoc = {
      doc_type: 'version', version: meta.version, pair: meta.pair, status: meta.status, created_ms: meta.created_ms,
      blob: { meta, model_text: modelText, report_html: reportHtml },
    };
    await this.client.index({ index: this.index, id: meta.version, document: doc, refresh: 'wait_for' });
  }

  async putMeta(meta: ModelMeta): Promise<void> {
    const cur = await this.getDoc<VersionDoc>(meta.version);
    if (!cur) throw new Error(`no model version ${meta.version}`);
    await this.client.index({
      index: this.index,
      id: meta.version,
      document: { ...cur, status: meta.status, blob: { ...cur.blob, meta } },
      refresh: 'wait_for',
    });
  }

  async getMeta(version: string): Promise<ModelMeta | null> {
    const d = await this.getDoc<VersionDoc>(version);
    return d && d.doc_type === 'version' ? checkMeta(d.blob.meta, `${this.index}/${version}`) : null;
  }

  async getModelText(version: string): Promise<string | null> {
    const d = await this.getDoc<VersionDoc>(version);
    return d && d.doc_type === 'version' ? d.blob.model_text : null;
  }

  async getReport(version: string): Promise<string | null> {
    const d = await this.getDoc<VersionDoc>(version);
    return d && d.doc_type === 'version' ? d.blob.report_html : null;
  }

  async listMeta(): Promise<ModelMeta[]> {
    await this.ensure();
    const out: ModelMeta[] = [];
    let after: unknown[] | undefined;
    for (;;) {
      const r = await this.client.search<VersionDoc>({
        index: this.index,
        size: 200,
        query: { term: { doc_type: 'version' } },
        sort: [{ created_ms: 'desc' }, { version: 'asc' }],
        _source: ['blob.meta'],
        ...(after ? { search_after: after as never } : {}),
      });
      const hits = r.hits.hits;
      for (const h of hits) if (h._source) out.push(checkMeta(h._source.blob.meta, `${this.index}/${h._id}`));
      if (hits.length < 200) break;
      after = hits[hits.length - 1]?.sort;
    }
    return out;
  }

  async getAlias(key: string): Promise<ProductionAlias | null> {
    const d = await this.getDoc<AliasDoc>(aliasId(key));
    return d && d.doc_type === 'alias' ? d.blob.alias : null;
  }

  async putAlias(alias: ProductionAlias): Promise<void> {
    await this.ensure();
    const doc: AliasDoc = { doc_type: 'alias', pair: alias.pair, blob: { alias } };
    await this.client.index({ index: this.index, id: aliasId(aliasKey(alias.pair, alias.target)), document: doc, refresh: 'wait_for' });
  }

  async close(): Promise<void> {
    if (this.ownClient) await this.client.close();
  }
}

export function elasticsearchRegistry(opts: EsRegistryOptions): ModelRegistry {
  return new ModelRegistry(new EsRegistryBackend(opts));
}
