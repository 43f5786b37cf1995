/**
 * The HTTP edge of the news sources: one conditional GET with a timeout.
 * `If-None-Match` / `If-Modified-Since` from the stored validators; 304 means
 * nothing new. Errors are `FeedFetchError` values with a kind for the metrics.
 */
import type { FeedValidators } from './news-cursor.ts';

export type FeedFetchErrorKind = 'http' | 'timeout' | 'network';

export class FeedFetchError extends Error {
  constructor(
    readonly kind: FeedFetchErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FeedFetchError';
  }
}

export type FetchResult =
  | { status: 'not-modified' }
  | { status: 'ok'; body: string; validators: FeedValidators };

export interface FeedFetcher {
  fetch(url: string, validators: FeedValidators, timeoutMs: number): Promise<FetchResult>;
}

export interface HttpFeedFetcherOptions {
  userAgent?: string;
  /** Largest body accepted (bytes); default 5 MiB. */
  maxBytes?: number;
}

/** A FeedFetcher over Node's global fetch. The timeout covers headers and body. */
export function httpFeedFetcher(opts: HttpFeedFetcherOptions = {}): FeedFetcher {
  const userAgent = opts.userAgent ?? 'tickcast-news/0.1 (+https://github.com/)';
  const maxBytes = opts.maxBytes ?? 5 * 1024 * 1024;
  return {
    async fetch(url, validators, timeoutMs) {
      const headers: Record<string, string> = {
        'user-agent': userAgent,
        accept: 'application/rss+xml, application/atom+xml, application/xml, text/xml, application/json;q=0.9, */*;q=0.5',
      };
      if (validators.etag) headers['if-none-match'] = validators.etag;
      if (validators.last_modified) headers['if-modified-since'] = validators.last_modified;
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const res = await fetch(url, { headers, signal, redirect: 'follow' });
        if (res.status === 304) {
          await res.body?.cancel();
          return { status: 'not-modified' };
        }
        if (!res.ok) {
          await res.body?.cancel();
          throw new FeedFetchError('http', `HTTP ${res.status}`, res.status);
        }
        const buf = Buffer.from(await res.arrayBuffer());
        if (buf.length > maxBytes) throw new FeedFetchError('http', `body too large: ${buf.length} bytes`);
        const v: FeedValidators = {};
        const etag = res.headers.get('etag');
        const lm = res.headers.get('last-modified');
        if (etag) v.etag = etag;
        if (lm) v.last_modified = lm;
        return { status: 'ok', body: buf.toString('utf8'), validators: v };
      } catch (e) {
        if (e instanceof FeedFetchError) throw e;
        const err = e as Error;
        if (signal.aborted || err.name === 'TimeoutError' || err.name === 'AbortError') {
          throw new FeedFetchError('timeout', `no complete response within ${timeoutMs} ms`);
        }
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new FeedFetchError('network', `${err.message}${cause ? `: ${cause.code ?? cause.message}` : ''}`);
      }
    },
  };
}
