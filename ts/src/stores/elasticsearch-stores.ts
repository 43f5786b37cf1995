/**
 * The production stores: one Elasticsearch index per series, explicit strict
 * mappings derived from the message schemas, document id = natural key (so a
 * replay or a restart overwrites instead of duplicating), bulk writes that
 * retry with exponential backoff while the node is unreachable or answers
 * 5xx/429. A write resolves only once Elasticsearch acknowledged every
 * document of it; when the retry budget runs out it rejects with
 * STORE_UNAVAILABLE and nothing of it counts as acknowledged.
 *
 * Only core Elasticsearch features are used (no scripts, no ingest
 * pipelines), so the bare integ-test distribution serves the tests.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, errors } from '@elastic/elasticsearch';
import type { estypes } from '@elastic/elasticsearch';
import type { TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import { StoreError } from './store-error.ts';
import { storeRejectedDocuments, storeWriteRetries, storeWriteSeconds } from './store-metrics.ts';
import {
  checkRange,
  type CheckedRange,
  checkTime,
  filtersOf,
  rejectedError,
  seriesKeyOf,
  validateBatch,
} from './series-support.ts';
import {
  AllSeries,
  CandleSeries,
  PredictionErrorSeries,
  ForecastErrorSeries,
  PredictionSeries,
  SentimentFeaturesSeries,
  BookFeaturesSeries,
  TechnicalFeaturesSeries,
  type RangeQuery,
  type RejectedDocument,
  type Series,
  type SeriesSpec,
  type Stores,
  type WriteResult,
} from './types.ts';

export interface ElasticsearchStoresOptions {
  /** Elasticsearch URL, e.g. http://127.0.0.1:9200. */
  node: string;
  auth?: { username: string; password: string } | { apiKey: string };
  /** Prefix of every index name (default `tickcast-`); tests use `tickcast-test-<random>-`. */
  indexPrefix?: string;
  /** Refresh after each bulk write: true / 'wait_for' make writes visible to the next read (tests). Default false. */
  refresh?: boolean | 'wait_for';
  /** Total time one bulk request (or the start-up) keeps retrying a down or overloaded node (default 120 000 ms). */
  retryBudgetMs?: number;
  /** First backoff delay (default 100 ms); doubles per attempt, with jitter. */
  retryBaseDelayMs?: number;
  /** Largest backoff delay (default 5 000 ms): bounds how late a write resumes after the node is back. */
  retryMaxDelayMs?: number;
  /** Documents per bulk request (default 1 000). */
  bulkSize?: number;
  /** Hits per search page when reading a range (default 5 000; at most 10 000). */
  pageSize?: number;
  /** Replicas of each index when it is created (default 1; 0 on a single-node test cluster). */
  numberOfReplicas?: number;
  /** Timeout of one HTTP request (default 30 000 ms). */
  requestTimeoutMs?: number;
}

interface Settings {
  prefix: string;
  refresh: boolean | 'wait_for';
  retryBudgetMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  bulkSize: number;
  pageSize: number;
  numberOfReplicas: number;
}

/** Extra fields kept in each document next to the message, stripped on read. */
const DOC_KEY = 'doc_key';
const SERIES_KEY = 'series_key';

/** Errors worth retrying: the node is unreachable, timed out, or answered 5xx/429. */
export function isRetryable(e: unknown): boolean {
  if (e instanceof errors.ConnectionError || e instanceof errors.TimeoutError || e instanceof errors.NoLivingConnectionsError) {
    return true;
  }
  if (e instanceof errors.ResponseError) {
    const s = e.statusCode ?? 0;
    return s === 429 || s >= 500;
  }
  return false;
}

const retryableStatus = (s: number): boolean => s === 429 || s >= 500;

/** Elasticsearch mapping of one schema property (types from the message schemas, so they never drift). */
function fieldMapping(name: string, s: TSchema): estypes.MappingProperty {
  const t = (s as { type?: unknown }).type;
  if (name.endsWith('_ms') && t === 'integer') return { type: 'date', format: 'epoch_millis' };
  if (t === 'integer') return { type: 'long' };
  if (t === 'number') return { type: 'double' };
  if (t === 'boolean') return { type: 'boolean' };
  if (t === 'string') return { type: 'keyword', ignore_above: 1024 };
  if (t === 'object' && (s as { patternProperties?: unknown }).patternProperties) {
    // A named map of numbers (features): flat leaf names such as `macd.signal`
    // beside `macd`, every value a double (dynamic template below).
    return { type: 'object', dynamic: true, subobjects: false };
  }
  if (t === 'object' && (s as { properties?: unknown }).properties) {
    // A nested record with fixed fields (a prediction's `range`, `volatility`, `direction`): mapped field by field, strict like the index.
    const props = (s as unknown as { properties: Record<string, TSchema> }).properties;
    return { type: 'object', dynamic: 'strict', properties: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, fieldMapping(`${name}.${k}`, v)])) };
  }
  if ((s as { anyOf?: unknown }).anyOf) return { type: 'keyword' }; // unions of literals (e.g. trade side)
  throw new Error(`no Elasticsearch mapping for field ${name} (${JSON.stringify(s)})`);
}

/** The explicit, strict mapping of a series index. */
export function mappingOf<T>(spec: SeriesSpec<T>): estypes.MappingTypeMapping {
  const props = (spec.schema as { properties?: Record<string, TSchema> }).properties ?? {};
  const properties: Record<string, estypes.MappingProperty> = {
    [DOC_KEY]: { type: 'keyword' },
    [SERIES_KEY]: { type: 'keyword' },
  };
  const templates: Record<string, estypes.MappingDynamicTemplate>[] = [];
  for (const [name, s] of Object.entries(props)) {
    const m = fieldMapping(name, s);
    properties[name] = m;
    if (m.type === 'object' && m.dynamic === true) {
      templates.push({ [`${name}_as_double`]: { path_match: `${name}.*`, mapping: { type: 'double' } } });
    }
  }
  return { dynamic: 'strict', dynamic_templates: templates, properties };
}

const stripKeys = <T>(src: unknown): T => {
  const o = { ...(src as Record<string, unknown>) };
  delete o[DOC_KEY];
  delete o[SERIES_KEY];
  return o as T;
};

/** Thrown inside a bulk attempt when some items answered 5xx/429 and must be retried. */
class RetryItems extends Error {}

/** Run an operation, retrying retryable failures with exponential backoff within the budget. */
async function withRetry<R>(
  cfg: Settings,
  log: Logger,
  what: string,
  fn: () => Promise<R>,
  onRetry: () => void = () => {},
): Promise<R> {
  const deadline = Date.now() + cfg.retryBudgetMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof StoreError) throw e;
      if (!(e instanceof RetryItems) && !isRetryable(e)) {
        throw new StoreError('BACKEND_ERROR', `${what} failed: ${(e as Error).message}`, { cause: e });
      }
      const delay = backoff(cfg, attempt);
      if (Date.now() + delay > deadline) {
        throw new StoreError(
          'STORE_UNAVAILABLE',
          `${what}: Elasticsearch unavailable for the whole retry budget (${cfg.retryBudgetMs} ms): ${(e as Error).message}`,
          { cause: e },
        );
      }
      onRetry();
      if (attempt === 0 || attempt % 10 === 0) log.warn({ err: (e as Error).message, attempt, delay_ms: delay }, `${what}: retrying`);
      await sleep(delay);
    }
  }
}

function backoff(cfg: Settings, attempt: number): number {
  const exp = Math.min(cfg.retryMaxDelayMs, cfg.retryBaseDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + Math.random() * (exp / 2)); // "equal jitter"
}

/** A bulk item that is not acknowledged yet. */
interface PendingItem<T> {
  index: number;
  id: string;
  doc: T;
}

class ElasticsearchSeries<T, S extends object> implements Series<T, S> {
  readonly index: string;

  constructor(
    private readonly client: Client,
    private readonly spec: SeriesSpec<T>,
    private readonly cfg: Settings,
    private readonly log: Logger,
    private readonly isOpen: () => boolean,
  ) {
    this.index = `${cfg.prefix}${spec.name}`;
  }

  private ensureOpen(): void {
    if (!this.isOpen()) throw new StoreError('CLOSED', `elasticsearch store is closed (${this.index})`);
  }

  /** Create the index with its mapping, or bring an existing one's mapping up to date (additive). */
  async ensureIndex(): Promise<void> {
    const mappings = mappingOf(this.spec);
    await withRetry(this.cfg, this.log, `create index ${this.index}`, async () => {
      const exists = await this.client.indices.exists({ index: this.index });
      if (!exists) {
        try {
          await this.client.indices.create({
            index: this.index,
            settings: { number_of_shards: 1, number_of_replicas: this.cfg.numberOfReplicas },
            mappings,
          });
          return;
        } catch (e) {
          const type = (e as errors.ResponseError).body?.error?.type;
          if (type !== 'resource_already_exists_exception') throw e;
        }
      }
      await this.client.indices.putMapping({ index: this.index, ...mappings });
    });
  }

  async write(docs: readonly T[]): Promise<WriteResult> {
    this.ensureOpen();
    const labels = { store: 'elasticsearch', op: this.spec.name };
    const stop = storeWriteSeconds().startTimer(labels);
    const { valid, rejected } = validateBatch(this.spec, docs);
    let written = 0;
    for (let i = 0; i < valid.length; i += this.cfg.bulkSize) {
      const chunk = valid.slice(i, i + this.cfg.bulkSize);
      const r = await this.bulk(chunk);
      written += r.written;
      rejected.push(...r.refused);
    }
    if (rejected.length > 0) storeRejectedDocuments().inc(labels, rejected.length);
    rejected.sort((a, b) => a.index - b.index);
    stop();
    return { written, rejected };
  }

  /** One bulk request per attempt, for the items not acknowledged yet. */
  private async bulk(chunk: PendingItem<T>[]): Promise<{ written: number; refused: RejectedDocument[] }> {
    let pending = chunk;
    let written = 0;
    const refused: RejectedDocument[] = [];
    await withRetry(
      this.cfg,
      this.log,
      `bulk write to ${this.index}`,
      async () => {
        this.ensureOpen();
        const operations: unknown[] = [];
        for (const p of pending) {
          operations.push({ index: { _index: this.index, _id: p.id } });
          operations.push({ ...(p.doc as object), [DOC_KEY]: p.id, [SERIES_KEY]: seriesKeyOf(this.spec, p.doc as object) });
        }
        const res = await this.client.bulk({ operations, refresh: this.cfg.refresh });
        const again: PendingItem<T>[] = [];
        res.items.forEach((item, k) => {
          const p = pending[k];
          const r = item.index;
          if (p === undefined || r === undefined) return;
          if (r.status >= 200 && r.status < 300 && !r.error) {
            written++;
          } else if (retryableStatus(r.status)) {
            again.push(p);
          } else {
            refused.push({
              index: p.index,
              error: new StoreError(
                'REJECTED_BY_STORE',
                `${this.index} refused document ${p.id} (index ${p.index}): ${r.error?.type ?? r.status}: ${r.error?.reason ?? ''}`,
              ),
            });
          }
        });
        pending = again;
        if (again.length > 0) {
          const first = res.items.find((it) => it.index && retryableStatus(it.index.status))?.index;
          throw new RetryItems(`${again.length} documents answered ${first?.status}: ${first?.error?.type ?? ''} ${first?.error?.reason ?? ''}`);
        }
      },
      () => storeWriteRetries().inc({ store: 'elasticsearch', op: this.spec.name }),
    );
    return { written, refused };
  }

  async put(doc: T): Promise<void> {
    const r = await this.write([doc]);
    if (r.rejected.length > 0) throw rejectedError(this.spec, r.rejected);
  }

  private filter(sel: S, from_ms?: number, to_ms?: number): estypes.QueryDslQueryContainer[] {
    const f: estypes.QueryDslQueryContainer[] = [{ term: { [SERIES_KEY]: seriesKeyOf(this.spec, sel) } }];
    for (const [field, v] of filtersOf(this.spec, sel)) f.push({ term: { [field]: v } });
    if (from_ms !== undefined || to_ms !== undefined) {
      const r: estypes.QueryDslDateRangeQuery = { format: 'epoch_millis' };
      if (from_ms !== undefined) r.gte = String(from_ms);
      if (to_ms !== undefined) r.lte = String(to_ms);
      f.push({ range: { [this.spec.timeField]: r } });
    }
    return f;
  }

  private sort(order: 'asc' | 'desc'): estypes.SortCombinations[] {
    return [{ [this.spec.timeField]: { order } }, { [DOC_KEY]: { order } }];
  }

  private async search(req: estypes.SearchRequest): Promise<estypes.SearchHit<unknown>[]> {
    this.ensureOpen();
    try {
      const res = await this.client.search({ index: this.index, track_total_hits: false, ...req }, { maxRetries: 2 });
      return res.hits.hits;
    } catch (e) {
      throw this.searchError('search', e);
    }
  }

  private searchError(what: string, e: unknown): StoreError {
    const code = isRetryable(e) ? 'STORE_UNAVAILABLE' : 'BACKEND_ERROR';
    return new StoreError(code, `${what} in ${this.index} failed: ${(e as Error).message}`, { cause: e });
  }

  async latest(sel: S): Promise<T | null> {
    const hits = await this.search({ query: { bool: { filter: this.filter(sel) } }, sort: this.sort('desc'), size: 1 });
    return hits[0] ? stripKeys<T>(hits[0]._source) : null;
  }

  async latestAll(): Promise<T[]> {
    const hits = await this.search({
      query: { match_all: {} },
      collapse: { field: SERIES_KEY },
      sort: [{ [SERIES_KEY]: { order: 'asc' } }, ...this.sort('desc')],
      size: 10_000,
    });
    return hits.map((h) => stripKeys<T>(h._source));
  }

  async range(sel: S, q?: RangeQuery): Promise<T[]> {
    const r = checkRange(q);
    const out: T[] = [];
    await this.pages(sel, r, out, undefined);
    return out;
  }

  /** Reads the range's pages into out, from after (a sort position) on, until its limit or its end. */
  private async pages(sel: S, r: CheckedRange, out: T[], after: estypes.SortResults | undefined): Promise<void> {
    const want = r.limit ?? Number.POSITIVE_INFINITY;
    while (out.length < want) {
      const size = Math.min(this.cfg.pageSize, want - out.length);
      const hits = await this.search(this.rangeRequest(sel, r, size, after));
      for (const h of hits) out.push(stripKeys<T>(h._source));
      const last = hits[hits.length - 1];
      if (hits.length < size || !last?.sort) break;
      after = last.sort;
    }
  }

  private rangeRequest(sel: S, r: CheckedRange, size: number, after?: estypes.SortResults): estypes.SearchRequest {
    return {
      query: { bool: { filter: this.filter(sel, r.from_ms, r.to_ms) } },
      sort: this.sort(r.order),
      size,
      ...(after ? { search_after: after } : {}),
    };
  }

  async rangeMany(reqs: readonly { sel: S; q?: RangeQuery }[]): Promise<T[][]> {
    const checked = reqs.map((x) => ({ sel: x.sel, r: checkRange(x.q) }));
    const out: T[][] = reqs.map(() => []);
    for (let i = 0; i < reqs.length; i += MSEARCH_MAX) {
      // The first page of every range of this part in one request; a range with more continues on its own.
      const part: { k: number; size: number }[] = [];
      const searches: estypes.MsearchRequestItem[] = [];
      for (let k = i; k < Math.min(reqs.length, i + MSEARCH_MAX); k++) {
        const { sel, r } = checked[k] as (typeof checked)[number];
        const size = Math.min(this.cfg.pageSize, r.limit ?? Number.POSITIVE_INFINITY);
        if (size === 0) continue;
        part.push({ k, size });
        searches.push({ index: this.index }, { ...this.rangeRequest(sel, r, size), track_total_hits: false } as estypes.MsearchMultisearchBody);
      }
      if (part.length === 0) continue;
      this.ensureOpen();
      let responses: estypes.MsearchResponseItem<unknown>[];
      try {
        responses = (await this.client.msearch({ searches }, { maxRetries: 2 })).responses;
      } catch (e) {
        throw this.searchError('msearch', e);
      }
      for (let j = 0; j < part.length; j++) {
        const { k, size } = part[j] as (typeof part)[number];
        const res = responses[j];
        if (res === undefined || 'error' in res) {
          const err = res === undefined ? 'no response' : `${res.error.type}: ${res.error.reason ?? ''}`;
          const code = res !== undefined && (res.status === 429 || (res.status ?? 0) >= 500) ? 'STORE_UNAVAILABLE' : 'BACKEND_ERROR';
          throw new StoreError(code, `search ${j} of an msearch in ${this.index} failed: ${err}`);
        }
        const { sel, r } = checked[k] as (typeof checked)[number];
        const rows = out[k] as T[];
        const hits = res.hits.hits;
        for (const h of hits) rows.push(stripKeys<T>(h._source));
        const last = hits[hits.length - 1];
        if (hits.length === size && last?.sort) await this.pages(sel, r, rows, last.sort);
      }
    }
    return out;
  }

  async asOf(sel: S, t_ms: number): Promise<T | null> {
    checkTime(t_ms);
    const hits = await this.search({
      query: { bool: { filter: this.filter(sel, undefined, t_ms) } },
      sort: this.sort('desc'),
      size: 1,
    });
    return hits[0] ? stripKeys<T>(hits[0]._source) : null;
  }
}

/** Ranges per msearch request (rangeMany). */
const MSEARCH_MAX = 100;

/** The index names the stores use with a prefix (for tests and operators). */
export const indexNames = (prefix = 'tickcast-'): string[] => AllSeries.map((s) => `${prefix}${s.name}`);

/** Connect, create or update the indices (retrying within the budget), and return the stores. */
export async function openElasticsearchStores(opts: ElasticsearchStoresOptions, logger: Logger): Promise<Stores> {
  const prefix = opts.indexPrefix ?? 'tickcast-';
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(prefix)) {
    throw new StoreError('INVALID_CONFIG', `index prefix must be lowercase letters, digits, '.', '_' or '-', got '${prefix}'`);
  }
  const cfg: Settings = {
    prefix,
    refresh: opts.refresh ?? false,
    retryBudgetMs: opts.retryBudgetMs ?? 120_000,
    retryBaseDelayMs: opts.retryBaseDelayMs ?? 100,
    retryMaxDelayMs: opts.retryMaxDelayMs ?? 5_000,
    bulkSize: opts.bulkSize ?? 1_000,
    pageSize: Math.min(opts.pageSize ?? 5_000, 10_000),
    numberOfReplicas: opts.numberOfReplicas ?? 1,
  };
  const log = logger.child({ component: 'elasticsearch-stores' });
  const client = new Client({
    node: opts.node,
    ...(opts.auth ? { auth: opts.auth } : {}),
    // Retries are ours (budgeted backoff above), not the client's immediate ones.
    maxRetries: 0,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
  });
  let open = true;
  const isOpen = () => open;
  const technical = new ElasticsearchSeries(client, TechnicalFeaturesSeries, cfg, log, isOpen);
  const sentiment = new ElasticsearchSeries(client, SentimentFeaturesSeries, cfg, log, isOpen);
  const candles = new ElasticsearchSeries(client, CandleSeries, cfg, log, isOpen);
  const predictions = new ElasticsearchSeries(client, PredictionSeries, cfg, log, isOpen);
  const predErrors = new ElasticsearchSeries(client, PredictionErrorSeries, cfg, log, isOpen);
  const forecastErrors = new ElasticsearchSeries(client, ForecastErrorSeries, cfg, log, isOpen);
  const book = new ElasticsearchSeries(client, BookFeaturesSeries, cfg, log, isOpen);
  try {
    for (const s of [technical, sentiment, candles, predictions, predErrors, forecastErrors, book]) await s.ensureIndex();
  } catch (e) {
    await client.close();
    throw e;
  }
  log.info({ node: opts.node, prefix }, 'elasticsearch stores open');
  return {
    features: { technical, sentiment, candles, book },
    predictions: { predictions, errors: predErrors, forecastErrors },
    async close() {
      if (!open) return;
      open = false;
      await client.close();
      log.info('elasticsearch stores closed');
    },
  };
}
