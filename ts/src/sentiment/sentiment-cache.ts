/**
 * Scores by content hash, so the same headline is never paid for twice:
 * key = sha256(model \0 title \0 summary). Two implementations: in memory
 * (tests, evaluation) and a SQLite table in the data dir (better-sqlite3).
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { validate } from '../contracts/codec.ts';
import { SentimentOutput } from './sentiment-output.ts';

export interface SentimentCache {
  get(key: string): SentimentOutput | undefined;
  set(key: string, value: SentimentOutput): void;
  close(): void;
}

export function contentKey(model: string, title: string, summary: string): string {
  return createHash('sha256').update(`${model}\u0000${title}\u0000${summary}`, 'utf8').digest('hex');
}

export function memorySentimentCache(): SentimentCache & { readonly size: number } {
  const m = new Map<string, SentimentOutput>();
  return {
    get: (k) => m.get(k),
    set: (k, v) => void m.set(k, v),
    close: () => undefined,
    get size() {
      return m.size;
    },
  };
}

/** A SQLite-backed cache (WAL). A row that no longer validates is ignored (treated as a miss). */
export function sqliteSentimentCache(file: string): SentimentCache {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE IF NOT EXISTS sentiment_cache (
    key TEXT PRIMARY KEY,
    output TEXT NOT NULL,
    created_ms INTEGER NOT NULL
  )`);
  const getStmt = db.prepare<[string], { output: string }>('SELECT output FROM sentiment_cache WHERE key = ?');
  const setStmt = db.prepare('INSERT OR REPLACE INTO sentiment_cache (key, output, created_ms) VALUES (?, ?, ?)');
  return {
    get(key) {
      const row = getStmt.get(key);
      if (!row) return undefined;
      try {
        const v = validate(SentimentOutput, JSON.parse(row.output));
        return v.ok ? v.value : undefined;
      } catch {
        return undefined;
      }
    },
    set(key, value) {
      setStmt.run(key, JSON.stringify(value), Date.now());
    },
    close() {
      db.close();
    },
  };
}
