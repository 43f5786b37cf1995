// tickcast dashboard: live candles, predictions at their target time, and the
// prediction error as it becomes known, from the websocket /v1/ws; the rolling
// accuracy of each model against the persistence baseline from GET /v1/monitoring.
// Plain script, no build step; charts by lightweight-charts (Apache-2.0).
// window.__tickcast exposes counters for tests and debugging.
(function () {
  'use strict';
  const LWC = window.LightweightCharts;
  const STALE_MS = 3 * 60 * 1000;
  const RECENT_ERRORS = 30;
  /** model_version of the persistence baseline's error rows (the price in 5 minutes equals the price now). */
  const BASELINE = 'baseline:persistence';
  /** Points kept per series and pair (a day of 1-minute candles). */
  const MAX_POINTS = 1440;

  const stats = {
    connected: false,
    connects: 0,
    frames: 0,
    /** Live points drawn into the chart (candle, prediction, error series), snapshots not counted. */
    points: { candles: 0, predictions: 0, errors: 0 },
    /** Points held by the chart series right now. */
    seriesLengths: () => ({ candles: candleSeries.data().length, predictions: predSeries.data().length, errors: errSeries.data().length }),
    /** The interval bands drawn (lo90, lo80, hi80, hi90 series: { time_s, value } each), for tests. */
    bandData: () => Object.fromEntries(BANDS.map((b) => [b, bandSeries[b].data().map((d) => ({ time: d.time, value: d.value }))])),
    selected: null,
    lastError: null,
    /** GET /v1/monitoring: requests answered, the last HTTP status, rows shown. */
    monitoring: { fetches: 0, status: null, rows: 0 },
    /** Rows of the coverage panel. */
    coverage: { rows: 0 },
  };
  window.__tickcast = stats;

  // ---- per pair state ------------------------------------------------------
  /** pair -> { candles, preds, errors: { m: Map<time_s, point>, last: newest time }, latest, lastCandle, errs: [] (model), baseErrs: [] (baseline) } */
  const state = new Map();
  const points = () => ({ m: new Map(), last: -Infinity });
  /** The 80% and 90% interval bounds of the range forecasts (issue 18), each a series of points at the target time. */
  const BANDS = ['lo90', 'lo80', 'hi80', 'hi90'];
  const bandPoints = () => Object.fromEntries(BANDS.map((b) => [b, points()]));
  const pairState = (pair) => {
    let s = state.get(pair);
    if (!s) {
      s = { candles: points(), preds: points(), errors: points(), bands: bandPoints(), latest: null, lastCandle: null, errs: [], baseErrs: [] };
      state.set(pair, s);
    }
    return s;
  };

  // ---- chart ------------------------------------------------------------------
  const el = document.getElementById('chart');
  const chart = LWC.createChart(el, {
    autoSize: true,
    layout: { background: { color: '#161c24' }, textColor: '#aab4c0', panes: { separatorColor: '#2c3643' } },
    grid: { vertLines: { color: '#1f2730' }, horzLines: { color: '#1f2730' } },
    timeScale: { timeVisible: true, secondsVisible: false, rightOffset: 6 },
    crosshair: { mode: 0 },
  });
  const candleSeries = chart.addSeries(LWC.CandlestickSeries, {
    upColor: '#26a69a', downColor: '#ef5350', borderVisible: false, wickUpColor: '#26a69a', wickDownColor: '#ef5350',
  });
  const predSeries = chart.addSeries(LWC.LineSeries, {
    color: '#f5b942', lineWidth: 2, lineStyle: 2, pointMarkersVisible: true, pointMarkersRadius: 3, title: 'predicted',
  });
  const bandSeries = Object.fromEntries(BANDS.map((b) => [b, chart.addSeries(LWC.LineSeries, {
    color: b.endsWith('90') ? 'rgba(245,185,66,0.35)' : 'rgba(245,185,66,0.6)', lineWidth: 1, lineStyle: 0,
    priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false, title: b === 'hi90' ? '90%' : b === 'hi80' ? '80%' : '',
  })]));
  const errSeries = chart.addSeries(LWC.HistogramSeries, {
    color: '#b388ff', priceFormat: { type: 'custom', formatter: (v) => v.toFixed(3) + '%' }, title: '|error| %',
  }, 1);
  const panes = chart.panes();
  if (panes[0] && panes[1]) { panes[0].setStretchFactor(3); panes[1].setStretchFactor(1); }

  const t = (ms) => Math.floor(ms / 1000);
  const candlePoint = (c) => ({ time: t(c.window_end_ms), open: c.open, high: c.high, low: c.low, close: c.close });
  const predPoint = (p) => ({ time: t(p.target_ms), value: p.predicted_price });
  const errPoint = (e) => ({ time: t(e.target_ms), value: e.abs_pct_error * 100, color: e.error >= 0 ? '#b388ff' : '#7e57c2' });
  const sorted = (m) => [...m.values()].sort((a, b) => a.time - b.time);

  /** Put a point in a pair's series and, if the pair is shown, into its chart series (update when in order, else redraw). */
  function apply(pair, ser, chartSeries, point, kind, live) {
    const inOrder = point.time >= ser.last;
    ser.m.set(point.time, point);
    if (inOrder) ser.last = point.time;
    let trimmed = false;
    if (ser.m.size > MAX_POINTS) {
      let oldest = Infinity;
      for (const k of ser.m.keys()) if (k < oldest) oldest = k;
      ser.m.delete(oldest);
      trimmed = true;
    }
    if (pair !== stats.selected) return;
    try {
      if (inOrder && !trimmed) chartSeries.update(point);
      else chartSeries.setData(sorted(ser.m));
      if (live) stats.points[kind]++;
    } catch (err) {
      stats.lastError = String(err);
    }
  }

  function redraw() {
    const s = pairState(stats.selected);
    candleSeries.setData(sorted(s.candles.m));
    predSeries.setData(sorted(s.preds.m));
    for (const b of BANDS) bandSeries[b].setData(sorted(s.bands[b].m));
    errSeries.setData(sorted(s.errors.m));
    chart.timeScale().scrollToRealTime();
    renderPanel();
  }

  // ---- side panel ---------------------------------------------------------------
  const $ = (id) => document.getElementById(id);
  const fmtPrice = (v) => (v >= 1000 ? v.toLocaleString('en-US', { maximumFractionDigits: 2 }) : v.toPrecision(6));
  /** Price differences (errors): small numbers with 4 significant digits, large ones with 2 decimals. */
  const fmtDelta = (v) => (Math.abs(v) >= 100 ? v.toFixed(2) : v.toPrecision(4));
  const fmtTime = (ms) => new Date(ms).toISOString().slice(11, 19);
  const fmtAge = (ms) => (ms < 0 ? 'in the future' : ms < 120000 ? `${Math.round(ms / 1000)} s ago` : ms < 7200000 ? `${Math.round(ms / 60000)} min ago` : `${(ms / 3600000).toFixed(1)} h ago`);

  function age(id, ms) {
    const dd = $(id);
    if (ms === null) { dd.textContent = '–'; dd.className = ''; return; }
    const a = Date.now() - ms;
    dd.textContent = fmtAge(a);
    dd.className = a > STALE_MS ? 'stale' : 'fresh';
  }

  function renderPanel() {
    const s = pairState(stats.selected);
    const p = s.latest;
    $('p-price').textContent = p && typeof p.predicted_price === 'number' ? fmtPrice(p.predicted_price) : '–';
    $('p-close').textContent = p ? fmtPrice(p.last_close) : '–';
    $('p-band80').textContent = p && p.range ? `${fmtPrice(p.range.lo80)} – ${fmtPrice(p.range.hi80)}` : '–';
    $('p-band90').textContent = p && p.range ? `${fmtPrice(p.range.lo90)} – ${fmtPrice(p.range.hi90)}` : '–';
    $('p-vol').textContent = p && p.volatility ? `${(p.volatility.value * 100).toFixed(3)}%` : '–';
    $('p-up').textContent = p && p.direction ? p.direction.p_up.toFixed(3) : '–';
    $('p-target').textContent = p ? fmtTime(p.target_ms) + ' UTC' : '–';
    $('p-model').textContent = p ? `${p.model_name} ${p.model_version}` : '–';
    renderAges();
    // The summary is the models' (the baseline's errors are listed in the table, marked, and compared in the accuracy panel).
    const errs = s.errs;
    $('n-err').textContent = String(errs.length);
    if (errs.length > 0) {
      const mae = errs.reduce((a, e) => a + Math.abs(e.error), 0) / errs.length;
      const mape = errs.reduce((a, e) => a + e.abs_pct_error, 0) / errs.length;
      $('mae').textContent = fmtDelta(mae);
      $('mape').textContent = (mape * 100).toFixed(3) + '%';
    } else {
      $('mae').textContent = '–';
      $('mape').textContent = '–';
    }
    // The newest rows, model and baseline, each saying which it is.
    const recent = [...errs.slice(-8), ...s.baseErrs.slice(-8)]
      .sort((a, b) => b.target_ms - a.target_ms || (a.model_version === BASELINE) - (b.model_version === BASELINE))
      .slice(0, 8);
    const body = document.querySelector('#err-table tbody');
    body.replaceChildren(...recent.map((e) => {
      const tr = document.createElement('tr');
      const base = e.model_version === BASELINE;
      tr.dataset.kind = base ? 'baseline' : 'model';
      tr.className = base ? 'baseline' : 'model';
      tr.title = base ? 'persistence baseline: the price now, as the prediction of the price in 5 minutes' : `model ${e.model_version}`;
      for (const v of [base ? 'baseline' : 'model', fmtTime(e.target_ms), fmtPrice(e.predicted_price), fmtPrice(e.actual_price), (e.error >= 0 ? '+' : '') + fmtDelta(e.error)]) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.appendChild(td);
      }
      return tr;
    }));
  }
  function renderAges() {
    const s = pairState(stats.selected);
    age('age-candle', s.lastCandle ? s.lastCandle.window_end_ms : null);
    age('age-pred', s.latest ? s.latest.made_at_ms : null);
  }
  setInterval(renderAges, 1000);

  // ---- model accuracy (GET /v1/monitoring) -------------------------------------------
  const MONITOR_EVERY_MS = 15000;
  let monWindow = '1h';
  let monTimer = null;
  const fmtPct = (v) => (v * 100).toFixed(1) + '%';
  const modelLabel = (m) => (m === 'baseline:persistence' ? 'persistence baseline' : m);

  function renderMonitoring(body, problem) {
    const rows = body ? body.accuracy.filter((a) => a.pair === stats.selected && a.window === monWindow) : [];
    // The models first (newest version name last), the baseline at the bottom.
    rows.sort((a, b) => (a.model_version === 'baseline:persistence') - (b.model_version === 'baseline:persistence') || (a.model_version < b.model_version ? -1 : 1));
    stats.monitoring.rows = rows.length;
    document.querySelector('#mon-table tbody').replaceChildren(...rows.map((a) => {
      const tr = document.createElement('tr');
      tr.dataset.model = a.model_version;
      const cells = [
        ['model', modelLabel(a.model_version), ''],
        ['n', String(a.n), ''],
        ['mae', a.mae === null ? '–' : fmtDelta(a.mae), ''],
        // Over the predictions that call a direction; n/a where none does (the baseline predicts no change).
        ['direction', a.direction_accuracy === null ? 'n/a' : fmtPct(a.direction_accuracy), ''],
        ['vs', a.mae_vs_baseline === null ? '–' : a.mae_vs_baseline.toFixed(3), a.mae_vs_baseline === null || a.model_version === 'baseline:persistence' ? '' : a.mae_vs_baseline < 1 ? 'better' : 'worse'],
      ];
      for (const [name, text, cls] of cells) {
        const td = document.createElement('td');
        td.className = [name, cls].filter(Boolean).join(' ');
        td.textContent = text;
        tr.appendChild(td);
      }
      return tr;
    }));
    const note = $('mon-note');
    if (problem) note.textContent = problem;
    else if (rows.length === 0) note.textContent = `no resolved predictions for ${stats.selected} in the last ${monWindow}`;
    else note.textContent = `targets up to ${new Date(body.windows_end_ms).toISOString().slice(0, 16).replace('T', ' ')} UTC · from the ${body.source === 'monitor' ? 'live monitor' : 'prediction store'}`;
  }

  // ---- interval coverage (GET /v1/monitoring `forecasts`) ------------------------------
  const NOMINAL = { 80: 0.8, 90: 0.9 };
  const WINDOW_ORDER = { '1h': 0, '1d': 1, '7d': 2 };
  /** Off nominal by more than 5 points (the coverage_off alert's tolerance). */
  const covClass = (v, level) => (v === null ? '' : Math.abs(v - NOMINAL[level]) > 0.05 ? 'off' : 'ok');

  function renderCoverage(body, problem) {
    // The range models' rows (not the baseline's own): every window, the baseline's coverage on the same targets beside.
    const rows = body ? (body.forecasts || []).filter((f) => f.pair === stats.selected && f.target === 'range' && f.baseline_model_version !== null) : [];
    rows.sort((a, b) => WINDOW_ORDER[a.window] - WINDOW_ORDER[b.window] || (a.model_version < b.model_version ? -1 : 1));
    stats.coverage.rows = rows.length;
    document.querySelector('#cov-table tbody').replaceChildren(...rows.map((f) => {
      const tr = document.createElement('tr');
      tr.dataset.window = f.window;
      tr.dataset.model = f.model_version;
      tr.title = `${f.model_version} vs ${f.baseline_model_version} (${f.baseline_n} of its targets)`;
      const cells = [
        ['w', f.window, ''],
        ['model', f.model_version, ''],
        ['n', String(f.n), ''],
        ['c80', f.coverage80 === null ? '–' : fmtPct(f.coverage80), covClass(f.coverage80, 80)],
        ['b80', f.baseline_coverage80 === null ? '–' : fmtPct(f.baseline_coverage80), 'base'],
        ['c90', f.coverage90 === null ? '–' : fmtPct(f.coverage90), covClass(f.coverage90, 90)],
        ['b90', f.baseline_coverage90 === null ? '–' : fmtPct(f.baseline_coverage90), 'base'],
      ];
      for (const [name, text, cls] of cells) {
        const td = document.createElement('td');
        td.className = [name, cls].filter(Boolean).join(' ');
        td.textContent = text;
        tr.appendChild(td);
      }
      return tr;
    }));
    const note = $('cov-note');
    if (problem) note.textContent = problem;
    else if (rows.length === 0) note.textContent = `no resolved range forecasts for ${stats.selected} in the last 7 days`;
    else note.textContent = 'observed share of actual prices inside the served intervals; base: the Gaussian-EWMA interval on the same targets';
  }

  /** Ask the API again now (and then every MONITOR_EVERY_MS); a late answer for another pair or window is dropped. */
  async function refreshMonitoring() {
    clearTimeout(monTimer);
    monTimer = setTimeout(refreshMonitoring, MONITOR_EVERY_MS);
    const pair = stats.selected;
    const win = monWindow;
    if (!pair) return;
    const key = new URLSearchParams(location.search).get('api_key');
    try {
      // Every window: the accuracy table shows the one picked, the coverage panel all three.
      const r = await fetch(`/v1/monitoring?${new URLSearchParams({ pair })}`, key ? { headers: { 'x-api-key': key } } : undefined);
      const body = await r.json().catch(() => null);
      stats.monitoring.fetches++;
      stats.monitoring.status = r.status;
      if (pair !== stats.selected || win !== monWindow) return;
      if (r.ok && body) {
        renderMonitoring(body, null);
        renderCoverage(body, null);
      } else {
        const problem = (body && body.error && body.error.message) || `GET /v1/monitoring answered ${r.status}`;
        renderMonitoring(null, problem);
        renderCoverage(null, problem);
      }
    } catch (err) {
      stats.monitoring.status = 'unreachable';
      if (pair === stats.selected) {
        renderMonitoring(null, `GET /v1/monitoring failed: ${err}`);
        renderCoverage(null, `GET /v1/monitoring failed: ${err}`);
      }
    }
  }
  for (const b of document.querySelectorAll('#mon-windows button')) {
    b.onclick = () => {
      monWindow = b.dataset.window;
      for (const o of document.querySelectorAll('#mon-windows button')) o.classList.toggle('active', o === b);
      refreshMonitoring();
    };
  }
  /** New errors change the figures: ask again soon, once for a burst of them. */
  let monSoon = null;
  function monitoringSoon() {
    if (monSoon) return;
    monSoon = setTimeout(() => { monSoon = null; refreshMonitoring(); }, 2000);
  }

  // ---- pairs ----------------------------------------------------------------------
  function setPairs(pairs) {
    const nav = $('pairs');
    nav.replaceChildren(...pairs.map((pair) => {
      const b = document.createElement('button');
      b.textContent = pair;
      b.dataset.pair = pair;
      b.onclick = () => select(pair);
      return b;
    }));
    if (!stats.selected || !pairs.includes(stats.selected)) select(pairs[0]);
  }
  function select(pair) {
    stats.selected = pair;
    for (const b of document.querySelectorAll('#pairs button')) b.classList.toggle('active', b.dataset.pair === pair);
    redraw();
    refreshMonitoring();
  }

  // ---- frames ---------------------------------------------------------------------
  function onCandle(c, live) {
    const s = pairState(c.pair);
    if (!s.lastCandle || c.window_end_ms >= s.lastCandle.window_end_ms) s.lastCandle = c;
    apply(c.pair, s.candles, candleSeries, candlePoint(c), 'candles', live);
  }
  function onPrediction(p, live) {
    const s = pairState(p.pair);
    if (!s.latest || p.made_at_ms >= s.latest.made_at_ms) s.latest = p;
    // A pair with no price model gets predictions without a price (range, volatility, direction only): no point to draw.
    if (typeof p.predicted_price === 'number') apply(p.pair, s.preds, predSeries, predPoint(p), 'predictions', live);
    // The bands are not counted in stats.points (live = false there): they ride with their prediction.
    if (p.range) for (const b of BANDS) apply(p.pair, s.bands[b], bandSeries[b], { time: t(p.target_ms), value: p.range[b] }, 'bands', false);
  }
  function onError(e, live) {
    const s = pairState(e.pair);
    const base = e.model_version === BASELINE;
    const list = base ? s.baseErrs : s.errs;
    list.push(e);
    if (list.length > RECENT_ERRORS) list.shift();
    // The chart's error series is the models' (a baseline row of the same target would overwrite its point).
    if (!base) apply(e.pair, s.errors, errSeries, errPoint(e), 'errors', live);
  }

  function onFrame(f) {
    stats.frames++;
    switch (f.type) {
      case 'hello':
        setPairs(f.pairs);
        send({ op: 'subscribe', pairs: f.pairs });
        break;
      case 'snapshot': {
        const s = pairState(f.pair);
        s.candles = points(); s.preds = points(); s.errors = points(); s.bands = bandPoints(); s.errs = []; s.baseErrs = []; s.latest = null; s.lastCandle = null;
        const shown = stats.selected; stats.selected = null; // fill maps without drawing, then one redraw
        for (const c of f.candles) onCandle(c, false);
        for (const p of f.predictions) onPrediction(p, false);
        if (f.prediction) onPrediction(f.prediction, false);
        for (const e of f.errors) onError(e, false);
        stats.selected = shown;
        if (f.pair === shown) redraw();
        break;
      }
      case 'candle': onCandle(f.data, true); break;
      case 'prediction': onPrediction(f.data, true); break;
      case 'prediction_error': onError(f.data, true); if (f.pair === stats.selected) monitoringSoon(); break;
      case 'error': stats.lastError = `${f.code}: ${f.message}`; break;
      default: break;
    }
    if (f.pair === undefined || f.pair === stats.selected) scheduleRender();
  }
  let renderPending = false;
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(() => { renderPending = false; renderPanel(); });
  }

  // ---- websocket with reconnect -------------------------------------------------------
  let ws = null;
  let attempt = 0;
  function send(msg) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg)); }
  function setConn(up, text) {
    stats.connected = up;
    $('conn').className = 'conn ' + (up ? 'up' : 'down');
    $('conn-text').textContent = text;
  }
  function connect() {
    const key = new URLSearchParams(location.search).get('api_key');
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws${key ? '?api_key=' + encodeURIComponent(key) : ''}`;
    ws = new WebSocket(url);
    ws.onopen = () => { attempt = 0; stats.connects++; setConn(true, 'live'); };
    ws.onmessage = (ev) => {
      try { onFrame(JSON.parse(ev.data)); } catch (err) { stats.lastError = String(err); }
    };
    ws.onclose = (ev) => {
      setConn(false, `disconnected (${ev.code}${ev.reason ? ': ' + ev.reason : ''}), retrying…`);
      const delay = Math.min(30000, 500 * 2 ** attempt++) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    };
  }
  connect();
})();
