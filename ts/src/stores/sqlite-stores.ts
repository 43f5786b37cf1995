/**
 * The embedded stores: one SQLite file (WAL) in a data folder, one table per
 * series, rows upserted by natural key. The document is kept as JSON text;
 * the series key, the time and the filter fields are columns for the indexes.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { StoreError } from './store-error.ts';
import { storeRejectedDocuments, storeWriteSeconds } from './store-metrics.ts';
import {
  checkRange,
  checkTime,
  filtersOf,
  rejectedError,
  seriesKeyOf,
  timeOf,
  validateBatch,
} from './series-support.ts';
import {
  CandleSeries,
  PredictionErrorSeries,
  ForecastErrorSeries,
  PredictionSeries,
  SentimentFeaturesSeries,
  BookFeaturesSeries,
  TechnicalFeaturesSeries,
  type RangeQuery,
  type Series,
  type SeriesSpec,
  type Stores,
  type WriteResult,
} from './types.ts';

export interface SqliteStoresOptions {
  /** Folder that holds the database file (created if missing). */
  dataDir: string;
  /** File name inside dataDir (default `tickcast-stores.sqlite`). */
  fileName?: string;
}

const SCHEMA_VERSION = 1;

/** Identifier-safe column / table name. */
const ident = (s: string): string => {
  const out = s.replace(/[^a-z0-9_]/gi, '_');
  return `"${out}"`;
};

type Db = Database.Database;

class SqliteSeries<T, S extends object> implements Series<T, S> {
  private readonly table: string;
  private readonly filterCols: string[];
  private readonly upsert: Database.Statement;
  private readonly upsertMany: (rows: { id: string; doc: T }[]) => void;

  constructor(
    private readonly db: Db,
    private readonly spec: SeriesSpec<T>,
    private readonly isOpen: () => boolean,
  ) {
    this.table = ident(spec.name);
    this.filterCols = spec.filterFields.map((f) => ident(`f_${f}`));
    const filterDefs = this.filterCols.map((c) => `, ${c} TEXT`).join('');
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${this.table} (
         id TEXT PRIMARY KEY NOT NULL,
         series TEXT NOT NULL,
         t_ms INTEGER NOT NULL${filterDefs},
         doc TEXT NOT NULL
       ) WITHOUT ROWID`,
    );
    db.exec(`CREATE INDEX IF NOT EXISTS ${ident(`${spec.name}_series_t`)} ON ${this.table} (series, t_ms, id)`);
    for (const c of this.filterCols) {
      const idx = ident(`${spec.name}_series_${c.replace(/"/g, '')}_t`);
      db.exec(`CREATE INDEX IF NOT EXISTS ${idx} ON ${this.table} (series, ${c}, t_ms, id)`);
    }
    const cols = ['id', 'series', 't_ms', ...this.filterCols, 'doc'];
    const updates = cols.filter((c) => c !== 'id').map((c) => `${c} = excluded.${c}`);
    this.upsert = db.prepare(
      `INSERT INTO ${this.table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})
       ON CONFLICT(id) DO UPDATE SET ${updates.join(', ')}`,
    );
    this.upsertMany = db.transaction((rows: { id: string; doc: T }[]) => {
      for (const r of rows) {
        const d = r.doc as Record<string, unknown>;
        const filters = spec.filterFields.map((f) => (d[f] === undefined ? null : String(d[f])));
        this.upsert.run(r.id, seriesKeyOf(spec, d), timeOf(spec, d), ...filters, JSON.stringify(r.doc));
      }
    });
  }

  private ensureOpen(): void {
    if (!this.isOpen()) throw new StoreError('CLOSED', `sqlite store is closed (${this.spec.name})`);
  }

  async write(docs: readonly T[]): Promise<WriteResult> {
    this.ensureOpen();
    const stop = storeWriteSeconds().startTimer({ store: 'sqlite', op: this.spec.name });
    const { valid, rejected } = validateBatch(this.spec, docs);
    if (rejected.length > 0) storeRejectedDocuments().inc({ store: 'sqlite', op: this.spec.name }, rejected.length);
    if (valid.length > 0) {
      try {
        this.upsertMany(valid);
      } catch (e) {
        throw new StoreError('BACKEND_ERROR', `sqlite write to ${this.spec.name} failed: ${(e as Error).message}`, { cause: e });
      }
    }
    stop();
    return { written: valid.length, rejected };
  }

  async put(doc: T): Promise<void> {
    const r = await this.write([doc]);
    if (r.rejected.length > 0) throw rejectedError(this.spec, r.rejected);
  }

  /** WHERE clause and parameters selecting one series (and its optional filters). */
  private where(sel: S): { sql: string; params: unknown[] } {
    const parts = ['series = ?'];
    const params: unknown[] = [seriesKeyOf(this.spec, sel)];
    for (const [f, v] of filtersOf(this.spec, sel)) {
      parts.push(`${ident(`f_${f}`)} = ?`);
      params.push(v);
    }
    return { sql: parts.join(' AND '), params };
  }

  private parse(rows: unknown[]): T[] {
    return rows.map((r) => JSON.parse((r as { doc: string }).doc) as T);
  }

  async latest(sel: S): Promise<T | null> {
    this.ensureOpen();
    const w = this.where(sel);
    const row = this.db.prepare(`SELECT doc FROM ${this.table} WHERE ${w.sql} ORDER BY t_ms DESC, id DESC LIMIT 1`).get(...w.params);
    return row === undefined ? null : (this.parse([row])[0] ?? null);
  }

  async latestAll(): Promise<T[]> {
    this.ensureOpen();
    const rows = this.db
      .prepare(
        `SELECT doc FROM (
           SELECT doc, series, ROW_NUMBER() OVER (PARTITION BY series ORDER BY t_ms DESC, id DESC) AS rn
           FROM ${this.table}
         ) WHERE rn = 1 ORDER BY series`,
      )
      .all();
    return this.parse(rows);
  }

  async range(sel: S, q?: RangeQuery): Promise<T[]> {
    this.ensureOpen();
    const r = checkRange(q);
    const w = this.where(sel);
    let sql = `SELECT doc FROM ${this.table} WHERE ${w.sql}`;
    const params = [...w.params];
    if (r.from_ms !== undefined) {
      sql += ' AND t_ms >= ?';
      params.push(r.from_ms);
    }
    if (r.to_ms !== undefined) {
      sql += ' AND t_ms <= ?';
      params.push(r.to_ms);
    }
    const dir = r.order === 'desc' ? 'DESC' : 'ASC';
    sql += ` ORDER BY t_ms ${dir}, id ${dir} LIMIT ?`;
    params.push(r.limit ?? -1);
    return this.parse(this.db.prepare(sql).all(...params));
  }

  async rangeMany(reqs: readonly { sel: S; q?: RangeQuery }[]): Promise<T[][]> {
    const out: T[][] = [];
    for (const r of reqs) out.push(await this.range(r.sel, r.q));
    return out;
  }

  async asOf(sel: S, t_ms: number): Promise<T | null> {
    this.ensureOpen();
    checkTime(t_ms);
    const w = this.where(sel);
    const row = this.db
      .prepare(`SELECT doc FROM ${this.table} WHERE ${w.sql} AND t_ms <= ? ORDER BY t_ms DESC, id DESC LIMIT 1`)
      .get(...w.params, t_ms);
    return row === undefined ? null : (this.parse([row])[0] ?? null);
  }
}

/** Open (or create) the SQLite stores in a data folder. */
export function openSqliteStores(opts: SqliteStoresOptions, logger: Logger): Stores {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const file = path.join(opts.dataDir, opts.fileName ?? 'tickcast-stores.sqlite');
  const db = new Database(file);
  // 16 KiB pages for a new file (an existing file keeps its own). A WITHOUT ROWID
  // table is a b-tree keyed by the whole row, and its interior pages hold copies
  // of rows: with ~1 KB feature rows a 4 KiB page holds about four, so there is
  // an interior page for every four leaves (281 for 1,119 after 5,500 feature
  // rows; 23 for 334 at 16 KiB). SQLite writes ~20% less CPU on bench/store-write.ts.
  db.pragma('page_size = 16384');
  db.pragma('journal_mode = WAL');
  // FULL: a write that returned is on disk even after a power loss (one fsync per batch).
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    db.close();
    throw new StoreError('BACKEND_ERROR', `${file} has schema version ${version}, newer than this program's ${SCHEMA_VERSION}`);
  }
  let open = true;
  const isOpen = () => open;
  const stores: Stores = {
    features: {
      technical: new SqliteSeries(db, TechnicalFeaturesSeries, isOpen),
      sentiment: new SqliteSeries(db, SentimentFeaturesSeries, isOpen),
      candles: new SqliteSeries(db, CandleSeries, isOpen),
      book: new SqliteSeries(db, BookFeaturesSeries, isOpen),
    },
    predictions: {
      predictions: new SqliteSeries(db, PredictionSeries, isOpen),
      errors: new SqliteSeries(db, PredictionErrorSeries, isOpen),
      forecastErrors: new SqliteSeries(db, ForecastErrorSeries, isOpen),
    },
    async close() {
      if (!open) return;
      open = false;
      db.close();
      logger.info({ file }, 'sqlite stores closed');
    },
  };
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
  logger.info({ file }, 'sqlite stores open');
  return stores;
}
