/**
 * The embedded registry backend: a folder.
 *   <dataDir>/models/<version>/model.txt | meta.json | report.html
 *   <dataDir>/models/production.json   (the alias of every pair and target family, by aliasKey)
 * Every file is written to a temporary name then renamed, so a reader never
 * sees half a file.
 */
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aliasKey, ProductionAlias, type ModelMeta } from './model-meta.ts';
import { Value } from '../contracts/typebox.ts';
import { checkMeta, ModelRegistry, RegistryError, type RegistryBackend } from './model-registry.ts';

const VERSION_RE = /^[a-z0-9][a-z0-9._-]{0,127}$/;

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export class FolderRegistryBackend implements RegistryBackend {
  readonly kind = 'folder' as const;
  readonly root: string;
  constructor(dataDir: string) {
    this.root = join(dataDir, 'models');
  }

  private dir(version: string): string {
    if (!VERSION_RE.test(version)) throw new RegistryError('NOT_FOUND', `not a model version: ${JSON.stringify(version)}`);
    return join(this.root, version);
  }

  async putVersion(meta: ModelMeta, modelText: string, reportHtml: string | null): Promise<void> {
    const d = this.dir(meta.version);
    await mkdir(d, { recursive: true });
    await writeAtomic(join(d, 'model.txt'), modelText);
    if (reportHtml !== null) await writeAtomic(join(d, 'report.html'), reportHtml);
    // meta.json last: a version without it is not listed (an interrupted save is invisible).
    await writeAtomic(join(d, 'meta.json'), JSON.stringify(meta, null, 2));
  }

  async putMeta(meta: ModelMeta): Promise<void> {
    await writeAtomic(join(this.dir(meta.version), 'meta.json'), JSON.stringify(meta, null, 2));
  }

  async getMeta(version: string): Promise<ModelMeta | null> {
    if (!VERSION_RE.test(version)) return null;
    const t = await readOrNull(join(this.dir(version), 'meta.json'));
    return t === null ? null : checkMeta(JSON.parse(t), join(this.dir(version), 'meta.json'));
  }

  getModelText(version: string): Promise<string | null> {
    return readOrNull(join(this.dir(version), 'model.txt'));
  }

  getReport(version: string): Promise<string | null> {
    return readOrNull(join(this.dir(version), 'report.html'));
  }

  async listMeta(): Promise<ModelMeta[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: ModelMeta[] = [];
    for (const n of names) {
      if (!VERSION_RE.test(n)) continue;
      const m = await this.getMeta(n).catch(() => null);
      if (m) out.push(m);
    }
    return out;
  }

  private async aliases(): Promise<Record<string, ProductionAlias>> {
    const t = await readOrNull(join(this.root, 'production.json'));
    return t === null ? {} : (JSON.parse(t) as Record<string, ProductionAlias>);
  }

  async getAlias(key: string): Promise<ProductionAlias | null> {
    const a = (await this.aliases())[key];
    return a && Value.Check(ProductionAlias, a) ? a : null;
  }

  async putAlias(alias: ProductionAlias): Promise<void> {
    await mkdir(this.root, { recursive: true });
    const all = await this.aliases();
    all[aliasKey(alias.pair, alias.target)] = alias;
    await writeAtomic(join(this.root, 'production.json'), JSON.stringify(all, null, 2));
  }

  async close(): Promise<void> {}
}

export function folderRegistry(dataDir: string): ModelRegistry {
  return new ModelRegistry(new FolderRegistryBackend(dataDir));
}
