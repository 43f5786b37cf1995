/**
 * Kibana saved objects (kibana/tickcast.ndjson: data views on the prediction,
 * error, forecast-error (issue 18: interval coverage) and candle indices, visualisations, one dashboard) and their import
 * through Kibana's saved objects API: POST /api/saved_objects/_import?overwrite=true,
 * multipart/form-data with the NDJSON as the `file` field and the kbn-xsrf header.
 *
 * The data view titles assume the default index prefix `tickcast-`; with
 * another prefix, pass `indexPrefix` and the titles and ids are rewritten.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Config } from '../config/config.ts';

/** The saved objects shipped with tickcast. */
export const KIBANA_SAVED_OBJECTS_FILE = fileURLToPath(new URL('../../../kibana/tickcast.ndjson', import.meta.url));

export interface KibanaImportOptions {
  /** e.g. http://127.0.0.1:5601 (a base path is kept: http://host/kibana). */
  kibanaUrl: string;
  /** NDJSON file (default: the shipped kibana/tickcast.ndjson). */
  file?: string;
  auth?: { username: string; password: string } | { apiKey: string };
  /** Index prefix of the stores when not `tickcast-`. */
  indexPrefix?: string;
  /** Kibana space (default: the default space). */
  space?: string;
  timeoutMs?: number;
}

export interface KibanaImportResult {
  successCount: number;
  /** Kibana's per-object errors (empty on success). */
  errors: unknown[];
}

/** The NDJSON with the index prefix applied to data view titles and ids. */
export function savedObjectsText(file: string, indexPrefix = 'tickcast-'): string {
  const text = readFileSync(file, 'utf8');
  if (indexPrefix === 'tickcast-') return text;
  return text.replaceAll(/tickcast-(predictions|prediction-errors|forecast-errors|candles|features-technical|features-sentiment)\b/g, `${indexPrefix}$1`);
}

/** POST the saved objects to Kibana; throws with Kibana's answer when the import fails. */
export async function importKibanaSavedObjects(opts: KibanaImportOptions): Promise<KibanaImportResult> {
  const file = opts.file ?? KIBANA_SAVED_OBJECTS_FILE;
  const body = new FormData();
  body.append('file', new Blob([savedObjectsText(file, opts.indexPrefix)], { type: 'application/ndjson' }), basename(file).endsWith('.ndjson') ? basename(file) : 'tickcast.ndjson');
  const base = opts.kibanaUrl.replace(/\/+$/, '');
  const space = opts.space ? `/s/${encodeURIComponent(opts.space)}` : '';
  const headers: Record<string, string> = { 'kbn-xsrf': 'tickcast' };
  if (opts.auth && 'apiKey' in opts.auth) headers.authorization = `ApiKey ${opts.auth.apiKey}`;
  else if (opts.auth) headers.authorization = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
  const res = await fetch(`${base}${space}/api/saved_objects/_import?overwrite=true`, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
  });
  const text = await res.text();
  let json: { success?: boolean; successCount?: number; errors?: unknown[]; message?: string } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    /* not JSON: reported below */
  }
  if (!res.ok) throw new Error(`Kibana import failed: HTTP ${res.status}: ${json.message ?? text.slice(0, 500)}`);
  if (json.success !== true) throw new Error(`Kibana import failed: ${JSON.stringify(json.errors ?? json).slice(0, 2000)}`);
  return { successCount: json.successCount ?? 0, errors: json.errors ?? [] };
}

/** `tickcast kibana import`: ship the dashboards to Kibana. */
export function addKibanaCommand(program: Command, configOf: () => Config): void {
  const kibana = program.command('kibana').description('Kibana dashboards of predictions and errors');
  kibana
    .command('import')
    .description('import the saved objects (data views, visualisations, dashboard) into Kibana, overwriting earlier versions')
    .option('--url <url>', 'Kibana URL (default TICKCAST_KIBANA_URL)')
    .option('--file <ndjson>', 'saved objects file', KIBANA_SAVED_OBJECTS_FILE)
    .option('--space <id>', 'Kibana space')
    .action(async (o: { url?: string; file: string; space?: string }) => {
      const config = configOf();
      const url = o.url ?? config.kibanaUrl;
      if (!url) {
        process.stderr.write('tickcast kibana import: give --url or set TICKCAST_KIBANA_URL (e.g. http://127.0.0.1:5601)\n');
        process.exit(2);
      }
      const auth =
        config.esApiKey !== undefined ? { apiKey: config.esApiKey } : config.esUsername !== undefined && config.esPassword !== undefined ? { username: config.esUsername, password: config.esPassword } : undefined;
      try {
        const r = await importKibanaSavedObjects({ kibanaUrl: url, file: o.file, indexPrefix: config.esIndexPrefix, ...(auth ? { auth } : {}), ...(o.space ? { space: o.space } : {}) });
        process.stdout.write(`imported ${r.successCount} saved objects into ${url}\n`);
      } catch (e) {
        process.stderr.write(`tickcast kibana import: ${(e as Error).message}\n`);
        process.exit(1);
      }
    });
}
