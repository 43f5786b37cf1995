/**
 * The dashboard in a real headless Chromium: the API on 127.0.0.1 (port 0)
 * with an in-memory live cache and a SQLite store; the page loads, connects
 * to /v1/ws, and draws the candles, predictions and errors pushed through the
 * server's live feed; the model accuracy panel shows GET /v1/monitoring's
 * rolling figures (27 h of real BTC/USD minutes in the store) for the window
 * picked. The page and /docs run under the API's Content-Security-Policy: any
 * violation (a blocked script, style, image or connection) fails the test.
 * Saves a screenshot to ${TICKCAST_ARTIFACTS:-artifacts}/dashboard.png.
 * Needs Debian's Chromium at /usr/bin/chromium (`apt-get install -y chromium`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { startApiServer } from '../../src/api/api-server.ts';
import { LiveCache } from '../../src/api/live-cache.ts';
import { historyFromStore } from '../../src/api/history.ts';
import { monitoringSource } from '../../src/api/monitoring.ts';
import type { Candle, Prediction } from '../../src/contracts/messages.ts';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { PAIRS, errorsFrom, predictionsFrom, quietLogger, realCandles, tempSqliteStores } from './helpers.ts';
import { BASELINE, WINDOW_MS, expected, writeForecastRows, writeMonitoringRows, type Window } from './monitoring-fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface PageStats {
  connected: boolean;
  points: { candles: number; predictions: number; errors: number };
  lengths: { candles: number; predictions: number; errors: number };
  lastError: string | null;
}

test('dashboard: live candles, predictions at target time and errors arrive over the websocket and are drawn', async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's Chromium with \`apt-get install -y chromium\``);
  const tmp = await tempSqliteStores();
  // Resolved predictions of two models and the baseline, for the accuracy panel.
  const mon = await writeMonitoringRows(tmp.stores, 1620);
  // Resolved range forecasts of the same minutes (a model and, for every other target, the Gaussian-EWMA baseline), for the coverage panel.
  const forecastRows = await writeForecastRows(tmp.stores, 1620);
  const cache = new LiveCache({ pairs: PAIRS });
  const srv = await startApiServer(
    {
      logger: quietLogger(),
      cache,
      history: historyFromStore(tmp.stores.predictions),
      monitoring: monitoringSource(tmp.stores.predictions, { cacheMs: 0 }),
      ws: { heartbeatMs: 5_000 },
    },
    { host: '127.0.0.1', port: 0 },
  );
  const profile = mkdtempSync(join(tmpdir(), 'tickcast-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1400, height: 760 },
  });
  try {
    // Real BTC/USD minutes, shifted so the last one closes now (fresh data on the panel).
    const real = realCandles('BTC/USD', 90);
    const shift = Math.floor(Date.now() / 60_000) * 60_000 - (real[real.length - 1] as Candle).window_end_ms;
    const candles = real.map((c) => ({ ...c, window_start_ms: c.window_start_ms + shift, window_end_ms: c.window_end_ms + shift }));
    // Each prediction also carries the forecasts of issue 18: a Gaussian band with the volatility of its own candle's
    // open-to-close move (a fixture, not a model), drawn at the target time and shown on the panel.
    const candleAt = new Map(candles.map((c) => [c.window_end_ms, c]));
    const preds: Prediction[] = predictionsFrom(candles).map((p, i) => {
      const c = candleAt.get(p.made_at_ms)!;
      const vol = Math.max(1e-4, Math.abs(Math.log(c.close / c.open)));
      const [z80, z90] = [1.2815515655446004, 1.6448536269514722];
      const range = { q05: -z90 * vol, q10: -z80 * vol, q50: 0, q90: z80 * vol, q95: z90 * vol, lo80: p.last_close * Math.exp(-z80 * vol), hi80: p.last_close * Math.exp(z80 * vol), lo90: p.last_close * Math.exp(-z90 * vol), hi90: p.last_close * Math.exp(z90 * vol), calibrated: false, m80: 1, m90: 1, model_version: 'range-1' };
      return { ...p, volatility: { value: vol, model_version: 'vol-1' }, range, direction: { p_up: (i % 10) / 10 + 0.05, model_version: 'dir-1' } };
    });
    const errs = errorsFrom(preds, candles);
    const history = candles.slice(0, 40);
    const live = candles.slice(40);
    for (const c of history) srv.app.live.candle(c); // in the snapshot

    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    // Every Content-Security-Policy violation of the page, as the browser reports it (the event fires for each blocked load or inline use).
    await browser.addInitScript(() => {
      const w = window as unknown as { __cspViolations: string[] };
      w.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => w.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`));
    });
    const violations = (p: typeof page) => p.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
    const first = await page.goto(`${srv.url}/`);
    assert.match(first?.headers()['content-security-policy'] ?? '', /default-src 'self'/, 'the page is served with the CSP');
    const stats = () =>
      page.evaluate(() => {
        const t = (window as unknown as { __tickcast: { connected: boolean; points: PageStats['points']; seriesLengths(): PageStats['lengths']; lastError: string | null } }).__tickcast;
        return { connected: t.connected, points: { ...t.points }, lengths: t.seriesLengths(), lastError: t.lastError };
      });
    await page.waitForFunction(() => (window as unknown as { __tickcast?: { connected: boolean } }).__tickcast?.connected === true, null, { timeout: 20_000 });
    await page.waitForFunction((n) => (window as any).__tickcast.seriesLengths().candles === n, history.length, { timeout: 20_000 });

    // Live: each minute a candle closes, a prediction is made, and errors become known for targets reached:
    // the model's, then the persistence baseline's for the same target (as the monitor publishes them).
    const predsLive = preds.filter((p) => p.made_at_ms > (history[history.length - 1] as Candle).window_end_ms);
    const errsLive = errs.filter((e) => e.target_ms > (history[history.length - 1] as Candle).window_end_ms);
    const lastCloseFor = new Map(preds.map((p) => [p.target_ms, p.last_close]));
    const baselineOf = (e: (typeof errs)[number]) => {
      const last = lastCloseFor.get(e.target_ms) as number;
      return { ...e, model_version: BASELINE, predicted_price: last, error: last - e.actual_price, abs_pct_error: Math.abs(last - e.actual_price) / e.actual_price };
    };
    for (const c of live) {
      srv.app.live.candle(c);
      for (const p of predsLive.filter((x) => x.made_at_ms === c.window_end_ms)) srv.app.live.prediction(p);
      for (const e of errsLive.filter((x) => x.target_ms === c.window_end_ms)) {
        srv.app.live.predictionError(e);
        srv.app.live.predictionError(baselineOf(e));
      }
    }
    await page.waitForFunction(
      (want) => {
        const p = (window as any).__tickcast.points;
        return p.candles >= want.c && p.predictions >= want.p && p.errors >= want.e;
      },
      { c: live.length, p: predsLive.length, e: errsLive.length },
      { timeout: 20_000 },
    );
    const s = await stats();
    assert.deepEqual(s.points, { candles: live.length, predictions: predsLive.length, errors: errsLive.length }, "every live frame drawn once (the error series is the model's)");
    // What the chart holds: one bar per minute, one prediction per target time, one error per known target.
    assert.equal(s.lengths.candles, candles.length);
    assert.equal(s.lengths.predictions, predsLive.length);
    assert.equal(s.lengths.errors, errsLive.length);
    assert.equal(s.lastError, null);
    // The 80% and 90% bands: one point per prediction at its target time, the stored bounds.
    const bands = (await page.evaluate(() => (window as any).__tickcast.bandData())) as Record<string, { time: number; value: number }[]>;
    for (const b of ['lo90', 'lo80', 'hi80', 'hi90'] as const) {
      const want = predsLive.map((p) => ({ time: Math.floor(p.target_ms / 1000), value: p.range![b] })).sort((x, y) => x.time - y.time);
      assert.equal(bands[b]!.length, want.length, `${b} points`);
      bands[b]!.forEach((pt, i) => assert.ok(pt.time === want[i]!.time && Math.abs(pt.value - want[i]!.value) < 1e-9, `${b} point ${i}: ${JSON.stringify(pt)} vs ${JSON.stringify(want[i])}`));
    }

    // The error panel: the model's MAE over its last 30 known errors (the baseline's rows are not mixed in), recomputed here from the candles themselves.
    const closeAt = new Map(candles.map((c) => [c.window_end_ms, c.close]));
    const known = predsLive.filter((p) => closeAt.has(p.target_ms)).slice(-30);
    const mae = known.reduce((a, p) => a + Math.abs(p.predicted_price! - (closeAt.get(p.target_ms) as number)), 0) / known.length;
    await page.waitForFunction(() => document.getElementById('n-err')?.textContent !== '0');
    const maeText = (await page.textContent('#mae')) ?? '';
    assert.ok(Math.abs(Number(maeText.replace(/,/g, '')) - mae) < 0.01, `MAE shown ${maeText}, expected ${mae}`);
    // The recent-errors table says which row is the model's and which the baseline's: the newest 4 targets, each twice.
    const table = await page.$$eval('#err-table tbody tr', (trs) =>
      trs.map((tr) => ({ kind: (tr as HTMLElement).dataset.kind, cells: Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '') })),
    );
    const newest = [...new Set(errsLive.map((e) => e.target_ms))].sort((a, b) => b - a).slice(0, 4);
    assert.equal(table.length, 8);
    for (const [i, row] of table.entries()) {
      const target = newest[Math.floor(i / 2)]!;
      const kind = i % 2 === 0 ? 'model' : 'baseline';
      assert.equal(row.kind, kind, `row ${i}`);
      assert.equal(row.cells[0], kind, `row ${i}: the first cell names it`);
      assert.equal(row.cells[1], new Date(target).toISOString().slice(11, 19));
      const e = errsLive.find((x) => x.target_ms === target)!;
      const wantError = kind === 'model' ? e.error : (lastCloseFor.get(target) as number) - e.actual_price;
      assert.ok(Math.abs(Number((row.cells[4] ?? '').replace(/,/g, '')) - wantError) < 0.01, `row ${i}: error ${row.cells[4]} vs ${wantError}`);
    }
    const latest = preds[preds.length - 1]!;
    const shownPrice = Number(((await page.textContent('#p-price')) ?? '').replace(/,/g, ''));
    assert.ok(Math.abs(shownPrice - latest.predicted_price!) < 0.01, 'latest prediction on the panel');
    const nums = (t: string | null) => (t ?? '').split(' – ').map((x) => Number(x.replace(/,/g, '')));
    const [lo80, hi80] = nums(await page.textContent('#p-band80'));
    const [lo90, hi90] = nums(await page.textContent('#p-band90'));
    for (const [name, got, want] of [['lo80', lo80, latest.range!.lo80], ['hi80', hi80, latest.range!.hi80], ['lo90', lo90, latest.range!.lo90], ['hi90', hi90, latest.range!.hi90]] as const) {
      assert.ok(Math.abs(got! - want) < 0.01, `panel ${name} ${got} vs ${want}`);
    }
    assert.equal(await page.textContent('#p-vol'), `${(latest.volatility!.value * 100).toFixed(3)}%`);
    assert.equal(await page.textContent('#p-up'), latest.direction!.p_up.toFixed(3));
    assert.match((await page.textContent('#age-candle')) ?? '', /s ago|min ago/);
    assert.equal(await page.getAttribute('#age-candle', 'class'), 'fresh');

    // The accuracy panel, for each window: every model's figures as recomputed naively from the stored rows.
    // (No helper functions inside the page callback: tsx would wrap them in a __name the page lacks.)
    const panel = async () =>
      (
        await page.$$eval('#mon-table tbody tr', (trs) =>
          trs.map((tr) => ({
            model: (tr as HTMLElement).dataset.model,
            cells: Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? ''),
            vsClass: tr.querySelector('td.vs')?.className ?? '',
          })),
        )
      ).map(({ model, cells, vsClass }) => {
        const [, n, mae, direction, vs] = cells.map((c) => c.replace(/,/g, ''));
        return { model, n: n ?? '', mae: mae ?? '', direction: direction ?? '', vs: vs ?? '', vsClass };
      });
    for (const [window, label] of [['1h', '1 h'], ['1d', '1 day']] as [Window, string][]) {
      if (window !== '1h') await page.click(`#mon-windows button[data-window="${window}"]`);
      const want = expected('BTC/USD', mon.errs, mon.preds, mon.end).filter((x) => x.window === window);
      assert.equal(want.length, 3, 'v1, v2 and the baseline');
      await page.waitForFunction(
        (n) => document.querySelector('#mon-table tbody tr[data-model="v1"] td.n')?.textContent === String(n),
        want.find((x) => x.model_version === 'v1')!.n,
        { timeout: 20_000 },
      );
      const shown = await panel();
      assert.deepEqual(shown.map((r) => r.model), ['v1', 'v2', BASELINE], `${label}: models first, the baseline last`);
      for (const w of want) {
        const r = shown.find((x) => x.model === w.model_version)!;
        assert.equal(Number(r.n), w.n, `${label} ${w.model_version}: n`);
        assert.ok(Math.abs(Number(r.mae) - w.mae!) <= Math.max(0.005, Math.abs(w.mae!) * 5e-4), `${label} ${w.model_version}: MAE ${r.mae} vs ${w.mae}`);
        // Direction over the predictions that call one; the baseline calls none: n/a.
        if (w.direction_accuracy === null) assert.equal(r.direction, 'n/a', `${label} ${w.model_version}: direction`);
        else assert.ok(Math.abs(Number(r.direction.replace('%', '')) - w.direction_accuracy * 100) <= 0.05 + 1e-9, `${label} ${w.model_version}: direction ${r.direction} vs ${w.direction_accuracy}`);
        assert.ok(Math.abs(Number(r.vs) - w.mae_vs_baseline!) <= 0.0005 + 1e-12, `${label} ${w.model_version}: vs baseline ${r.vs} vs ${w.mae_vs_baseline}`);
        if (w.model_version !== BASELINE) assert.match(r.vsClass, w.mae_vs_baseline! < 1 ? /better/ : /worse/);
      }
    }
    assert.match((await page.textContent('#mon-note')) ?? '', /prediction store/);

    // The coverage panel: per window, the range model's observed 80% / 90% coverage and the baseline's on the same
    // targets, recounted here naively from the stored rows fed (hits / rows with end - window < target <= end).
    await page.waitForFunction(() => (window as any).__tickcast.coverage.rows === 3, null, { timeout: 20_000 });
    const covRows = await page.$$eval('#cov-table tbody tr', (trs) =>
      trs.map((tr) => ({
        window: (tr as HTMLElement).dataset.window,
        model: (tr as HTMLElement).dataset.model,
        cells: Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? ''),
        classes: Array.from(tr.querySelectorAll('td'), (td) => td.className),
      })),
    );
    assert.deepEqual(covRows.map((r) => `${r.window} ${r.model}`), ['1h range-1', '1d range-1', '7d range-1'], 'one row per window, the baseline beside, not below');
    const pct = (x: string | undefined) => Number((x ?? '').replace('%', ''));
    for (const r of covRows) {
      const w = r.window as Window;
      const inW = (t: number) => t > mon.end - WINDOW_MS[w] && t <= mon.end;
      const model = forecastRows.filter((f) => f.target === 'range' && f.model_version === 'range-1' && inW(f.target_ms));
      const baseAt = new Map(forecastRows.filter((f) => f.model_version === 'baseline:gaussian_ewma' && inW(f.target_ms)).map((f) => [f.target_ms, f]));
      const matched = model.filter((f) => baseAt.has(f.target_ms)).map((f) => baseAt.get(f.target_ms)!);
      const share = (xs: boolean[]) => (100 * xs.filter(Boolean).length) / xs.length;
      const want = {
        n: model.length,
        c80: share(model.map((f) => f.hit80!)),
        c90: share(model.map((f) => f.hit90!)),
        b80: share(matched.map((f) => f.hit80!)),
        b90: share(matched.map((f) => f.hit90!)),
      };
      const [, , n, c80, b80, c90, b90] = r.cells;
      assert.equal(Number(n), want.n, `${w}: n`);
      for (const [name, got, exp] of [['80%', c80, want.c80], ['base 80%', b80, want.b80], ['90%', c90, want.c90], ['base 90%', b90, want.b90]] as const) {
        // The baseline needs 240 minutes of closes before made_at: where the recording has gaps there is none (shown as –).
        if (Number.isNaN(exp)) assert.equal(got, '–', `${w} ${name}: no baseline row on these targets`);
        else assert.ok(Math.abs(pct(got) - exp) <= 0.05 + 1e-9, `${w} ${name}: shown ${got}, recounted ${exp.toFixed(3)}%`);
      }
      if (w !== '1h') assert.ok(matched.length > 0, `${w}: the baseline resolved some of the targets`);
      // Marked off nominal when more than 5 points away (the coverage_off tolerance).
      assert.match(r.classes[3] ?? '', Math.abs(want.c80 - 80) > 5 ? /off/ : /ok/, `${w}: 80% class`);
      assert.match(r.classes[5] ?? '', Math.abs(want.c90 - 90) > 5 ? /off/ : /ok/, `${w}: 90% class`);
      console.log(`coverage panel ${w}: n ${want.n}, 80% ${want.c80.toFixed(1)} (baseline ${want.b80.toFixed(1)} on ${matched.length}), 90% ${want.c90.toFixed(1)} (baseline ${want.b90.toFixed(1)}); shown ${r.cells.slice(2).join(' ')}`);
    }
    assert.equal(await page.evaluate(() => (window as any).__tickcast.monitoring.status), 200);
    assert.deepEqual(await violations(page), [], 'no CSP violation on the dashboard');
    assert.deepEqual(consoleErrors, []);

    // /docs (Swagger UI) under the same policy: it renders the API's title and operations.
    const docs = await browser.newPage();
    const docsErrors: string[] = [];
    docs.on('pageerror', (e) => docsErrors.push(String(e)));
    docs.on('console', (m) => {
      if (m.type() === 'error') docsErrors.push(m.text());
    });
    const docsResponse = await docs.goto(`${srv.url}/docs`);
    assert.match(docsResponse?.headers()['content-security-policy'] ?? '', /default-src 'self'/, '/docs is served with the CSP');
    await docs.waitForSelector('.swagger-ui .info .title', { timeout: 20_000 });
    await docs.waitForSelector('.opblock-summary-path', { timeout: 20_000 });
    assert.match((await docs.textContent('.swagger-ui .info .title')) ?? '', /tickcast API/);
    assert.deepEqual(await violations(docs), [], 'no CSP violation on /docs');
    assert.deepEqual(docsErrors.filter((e) => /Content Security Policy|Refused to/i.test(e)), [], 'no CSP error in the /docs console');

    const dir = resolve(REPO_ROOT, process.env.TICKCAST_ARTIFACTS ?? 'artifacts');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'dashboard.png');
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(statSync(file).size > 10_000, 'screenshot written');
  } finally {
    await browser.close();
    await srv.close();
    await tmp.cleanup();
    rmSync(profile, { recursive: true, force: true });
  }
});
