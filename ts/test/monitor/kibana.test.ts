/**
 * Kibana saved objects: every field they reference exists in our index
 * mappings (or is a runtime field of its data view defined over mapped
 * fields), and the import POSTs a proper multipart request with kbn-xsrf to
 * /api/saved_objects/_import?overwrite=true (checked by a local HTTP server).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AllSeries, type SeriesSpec } from '../../src/stores/types.ts';

const specOf = (index: string): SeriesSpec<unknown> | undefined => (AllSeries as readonly SeriesSpec<unknown>[]).find((s) => `tickcast-${s.name}` === index);
import { indexNames, mappingOf } from '../../src/stores/elasticsearch-stores.ts';
import { importKibanaSavedObjects, KIBANA_SAVED_OBJECTS_FILE, savedObjectsText } from '../../src/monitor/kibana.ts';

interface SavedObject {
  id: string;
  type: string;
  attributes: Record<string, unknown>;
  references: { name: string; type: string; id: string }[];
}
const objects = readFileSync(KIBANA_SAVED_OBJECTS_FILE, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as SavedObject);

/** Mapped field names of an index (by its default-prefix name). */
function mappedFields(index: string): Set<string> {
  const spec = specOf(index);
  assert.ok(spec, `data view ${index} is not one of our indices ${indexNames().join(', ')}`);
  return new Set(Object.keys(mappingOf(spec).properties ?? {}));
}

test('every field the saved objects reference exists in our index mappings', () => {
  const views = objects.filter((o) => o.type === 'index-pattern');
  assert.deepEqual(views.map((v) => v.attributes.title).sort(), ['tickcast-candles', 'tickcast-forecast-errors', 'tickcast-prediction-errors', 'tickcast-predictions']);
  const fieldsOf = new Map<string, Set<string>>();
  for (const v of views) {
    const title = String(v.attributes.title);
    assert.ok(indexNames().includes(title), title);
    const mapped = mappedFields(title);
    const time = String(v.attributes.timeFieldName);
    assert.ok(mapped.has(time), `${title}: time field ${time}`);
    assert.equal(mappingOf(specOf(title) as SeriesSpec<unknown>).properties?.[time]?.type, 'date', `${title}: ${time} is a date`);
    const runtime = JSON.parse(String(v.attributes.runtimeFieldMap)) as Record<string, { script: { source: string } }>;
    for (const [name, def] of Object.entries(runtime)) {
      for (const m of def.script.source.matchAll(/doc\['([^']+)'\]/g)) assert.ok(mapped.has(m[1] as string), `${title}: runtime ${name} reads ${m[1]}`);
    }
    fieldsOf.set(v.id, new Set([...mapped, ...Object.keys(runtime)]));
  }
  const visualisations = objects.filter((o) => o.type === 'visualization');
  assert.ok(visualisations.length >= 4);
  let checked = 0;
  for (const vis of visualisations) {
    const ref = vis.references.find((r) => r.type === 'index-pattern');
    assert.ok(ref && fieldsOf.has(ref.id), `${vis.id} references a shipped data view`);
    const fields = fieldsOf.get(ref.id) as Set<string>;
    const state = JSON.parse(String(vis.attributes.visState)) as { aggs: { params: { field?: string } }[] };
    for (const a of state.aggs) {
      if (a.params.field === undefined) continue;
      assert.ok(fields.has(a.params.field), `${vis.id}: field ${a.params.field} not in ${ref.id}`);
      checked++;
    }
  }
  assert.ok(checked >= 15, `checked ${checked} field references`);
  // The dashboard's panels are shipped visualisations.
  const dash = objects.find((o) => o.type === 'dashboard');
  assert.ok(dash);
  const ids = new Set(visualisations.map((v) => v.id));
  for (const r of dash.references) assert.ok(ids.has(r.id), r.id);
  const panels = JSON.parse(String(dash.attributes.panelsJSON)) as { panelRefName: string }[];
  assert.deepEqual(panels.map((p) => p.panelRefName).sort(), dash.references.map((r) => r.name).sort());
});

// --- a Kibana stand-in that checks the multipart request ---------------------
const seen: { url: string; headers: IncomingMessage['headers']; body: string }[] = [];
let answer: { status: number; body: unknown } = { status: 200, body: {} };
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    seen.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const kibanaUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => new Promise<void>((r) => server.close(() => r())));

/** Parse multipart/form-data by hand (the boundary from the header, RFC 7578). */
function parts(contentType: string, body: string): { headers: string; content: string }[] {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  assert.ok(m, `multipart boundary in ${contentType}`);
  const boundary = `--${m[1] ?? m[2]}`;
  const segs = body.split(boundary);
  assert.equal(segs.at(-1)?.trim(), '--', 'closing boundary');
  return segs.slice(1, -1).map((s) => {
    const i = s.indexOf('\r\n\r\n');
    return { headers: s.slice(2, i), content: s.slice(i + 4, -2) };
  });
}

test('import: multipart POST with kbn-xsrf to /api/saved_objects/_import?overwrite=true, auth, prefix, failures reported', async () => {
  const n = objects.length;
  answer = { status: 200, body: { success: true, successCount: n, successResults: [] } };
  const r = await importKibanaSavedObjects({ kibanaUrl: `${kibanaUrl}/`, auth: { username: 'elastic', password: 'pw' } });
  assert.equal(r.successCount, n);
  const req = seen.at(-1);
  assert.ok(req);
  assert.equal(req.url, '/api/saved_objects/_import?overwrite=true');
  assert.ok(req.headers['kbn-xsrf'], 'kbn-xsrf header');
  assert.equal(req.headers.authorization, `Basic ${Buffer.from('elastic:pw').toString('base64')}`);
  const ps = parts(String(req.headers['content-type']), req.body);
  assert.equal(ps.length, 1);
  assert.match(ps[0]?.headers ?? '', /Content-Disposition: form-data; name="file"; filename="tickcast\.ndjson"/i);
  assert.equal(ps[0]?.content, readFileSync(KIBANA_SAVED_OBJECTS_FILE, 'utf8'), 'the file, byte for byte');

  // Another index prefix and a space.
  await importKibanaSavedObjects({ kibanaUrl, indexPrefix: 'prod-', space: 'ops', auth: { apiKey: 'k1' } });
  const req2 = seen.at(-1);
  assert.equal(req2?.url, '/s/ops/api/saved_objects/_import?overwrite=true');
  assert.equal(req2?.headers.authorization, 'ApiKey k1');
  const content = parts(String(req2?.headers['content-type']), req2?.body ?? '')[0]?.content ?? '';
  assert.equal(content, savedObjectsText(KIBANA_SAVED_OBJECTS_FILE, 'prod-'));
  assert.match(content, /"title":"prod-prediction-errors"/);
  assert.doesNotMatch(content, /"title":"tickcast-/);

  answer = { status: 200, body: { success: false, successCount: 0, errors: [{ id: 'tickcast-predictions', error: { type: 'conflict' } }] } };
  await assert.rejects(importKibanaSavedObjects({ kibanaUrl }), /conflict/);
  answer = { status: 400, body: { statusCode: 400, error: 'Bad Request', message: 'Request must contain a kbn-xsrf header.' } };
  await assert.rejects(importKibanaSavedObjects({ kibanaUrl }), /HTTP 400: Request must contain a kbn-xsrf header/);
});
