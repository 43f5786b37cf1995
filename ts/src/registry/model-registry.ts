/**
 * The model registry: versions (model text + meta + report) and a
 * `production` alias per (pair, target family), over a small storage backend (a folder, or an
 * Elasticsearch index). Promotion rules live in promotion.ts; this class
 * only moves the alias and the statuses.
 */
import { Value } from '../contracts/typebox.ts';
import { aliasKey, ModelMeta, type ModelStatus, type ProductionAlias } from './model-meta.ts';
import { targetOf } from '../model/targets.ts';

/** The family of a version's target (one production model per pair and family). */
export function familyOf(meta: Pick<ModelMeta, 'target'>): string {
  return targetOf(meta.target).family;
}

export interface StoredModel {
  meta: ModelMeta;
  modelText: string;
}

/** What a backend stores: documents by version, and one alias document per pair. */
export interface RegistryBackend {
  readonly kind: 'folder' | 'elasticsearch';
  putVersion(meta: ModelMeta, modelText: string, reportHtml: string | null): Promise<void>;
  putMeta(meta: ModelMeta): Promise<void>;
  getMeta(version: string): Promise<ModelMeta | null>;
  getModelText(version: string): Promise<string | null>;
  getReport(version: string): Promise<string | null>;
  listMeta(): Promise<ModelMeta[]>;
  /** The alias stored under aliasKey(pair, family). */
  getAlias(key: string): Promise<ProductionAlias | null>;
  putAlias(alias: ProductionAlias): Promise<void>;
  close(): Promise<void>;
}

export class RegistryError extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'NO_PREVIOUS' | 'INVALID_META' | 'CONFLICT',
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export function checkMeta(raw: unknown, where: string): ModelMeta {
  if (!Value.Check(ModelMeta, raw)) {
    const first = [...Value.Errors(ModelMeta, raw)][0];
    throw new RegistryError('INVALID_META', `${where}: invalid model meta at ${first?.path ?? '?'}: ${first?.message ?? '?'}`);
  }
  return raw;
}

export class ModelRegistry {
  constructor(readonly backend: RegistryBackend) {}

  get kind(): 'folder' | 'elasticsearch' {
    return this.backend.kind;
  }

  /** Store a new version (its status as given: candidate or rejected). */
  async save(meta: ModelMeta, modelText: string, reportHtml: string | null = null): Promise<void> {
    checkMeta(meta, meta.version);
    if (await this.backend.getMeta(meta.version)) throw new RegistryError('CONFLICT', `version ${meta.version} exists already`);
    await this.backend.putVersion(meta, modelText, reportHtml);
  }

  async meta(version: string): Promise<ModelMeta | null> {
    return this.backend.getMeta(version);
  }

  async load(version: string): Promise<StoredModel | null> {
    const meta = await this.backend.getMeta(version);
    if (!meta) return null;
    const modelText = await this.backend.getModelText(version);
    if (modelText === null) throw new RegistryError('NOT_FOUND', `version ${version} has no model text`);
    return { meta, modelText };
  }

  report(version: string): Promise<string | null> {
    return this.backend.getReport(version);
  }

  /** Versions, newest first (of one pair and one target family when given). */
  async list(pair?: string, family?: string): Promise<ModelMeta[]> {
    const all = await this.backend.listMeta();
    return all
      .filter((m) => (pair === undefined || m.pair === pair) && (family === undefined || familyOf(m) === family)).sort((a, b) => b.created_ms - a.created_ms || (a.version < b.version ? 1 : -1));
  }

  /** The production version of a pair for a target family (default: the price), or null. */
  async production(pair: string, family = 'price'): Promise<string | null> {
    return (await this.backend.getAlias(aliasKey(pair, family)))?.version ?? null;
  }

  async setStatus(version: string, status: ModelStatus, reason: string): Promise<ModelMeta> {
    const meta = await this.backend.getMeta(version);
    if (!meta) throw new RegistryError('NOT_FOUND', `no model version ${version}`);
    const next = { ...meta, status, reason };
    await this.backend.putMeta(next);
    return next;
  }

  /** Make `version` the production model of its pair and target family (the previous one is retired, kept in the history). */
  async promote(version: string, reason: string, now_ms = Date.now()): Promise<ModelMeta> {
    const meta = await this.backend.getMeta(version);
    if (!meta) throw new RegistryError('NOT_FOUND', `no model version ${version}`);
    const family = familyOf(meta);
    const target = family === 'price' ? {} : { target: family };
    const alias = (await this.backend.getAlias(aliasKey(meta.pair, family))) ?? { pair: meta.pair, ...target, version: null, history: [], updated_ms: 0 };
    if (alias.version === version) return meta;
    if (alias.version) {
      await this.setStatus(alias.version, 'retired', `replaced by ${version}`);
      alias.history.push(alias.version);
    }
    const next = await this.setStatus(version, 'production', reason);
    await this.backend.putAlias({ pair: meta.pair, ...target, version, history: alias.history.filter((v) => v !== version), updated_ms: now_ms });
    return next;
  }

  /** Put the previous production version of a pair (and target family) back; the current one becomes rolled_back. */
  async rollback(pair: string, now_ms = Date.now(), family = 'price'): Promise<{ from: string; to: string }> {
    const alias = await this.backend.getAlias(aliasKey(pair, family));
    if (!alias?.version) throw new RegistryError('NO_PREVIOUS', `no production model for ${pair}${family === 'price' ? '' : ` (${family})`}`);
    const history = [...alias.history];
    const to = history.pop();
    if (to === undefined) throw new RegistryError('NO_PREVIOUS', `${pair}: no earlier production model to roll back to (current ${alias.version})`);
    await this.setStatus(alias.version, 'rolled_back', `rolled back to ${to}`);
    await this.setStatus(to, 'production', `restored by rollback from ${alias.version}`);
    await this.backend.putAlias({ ...alias, version: to, history, updated_ms: now_ms });
    return { from: alias.version, to };
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}
