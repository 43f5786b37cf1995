/**
 * The report of a training run: one self-contained HTML page (inline SVG
 * drawn here, inline CSS, no script, no network) written beside the model.
 * Plots: predicted vs actual price over the test folds, residuals over time,
 * feature importance, RMSE per fold against the baselines; and the tables.
 * Other targets (renderTargetReport): the table of every metric against every
 * baseline, per fold and overall, the candidates compared, and one picture:
 * predicted vs realized volatility (volatility), 90% coverage by ex-ante
 * volatility tercile (range), the reliability diagram (direction).
 */
import type { ModelMeta } from '../registry/model-meta.ts';
import type { Evaluation } from './walk-forward-eval.ts';
import type { TargetEvaluation } from './target-trainer.ts';
import type { Dataset } from './dataset.ts';
import { targetOf } from '../model/targets.ts';
import { reliabilityBins } from '../model/targets/direction.ts';

export interface ReportInput {
  meta: ModelMeta;
  evaluation: Evaluation;
  importance: number[];
  /** Most points drawn per line (evenly thinned; default 1500). */
  maxPoints?: number;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
const num = (x: number | null | undefined, d = 4) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : Math.abs(x) >= 1000 ? x.toFixed(2) : x.toPrecision(d));
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

const W = 900;
const H = 260;
const PAD = { l: 70, r: 10, t: 10, b: 30 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

function thin(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.round((i * (n - 1)) / (max - 1)));
}

function lineChart(xs: number[], series: { name: string; ys: number[] }[], maxPoints: number, zeroLine = false): string {
  const idx = thin(xs.length, maxPoints);
  const all = series.flatMap((s) => idx.map((i) => s.ys[i] as number)).filter(Number.isFinite);
  if (idx.length < 2 || all.length === 0) return '<p>(no data)</p>';
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (zeroLine) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  if (hi === lo) hi = lo + 1;
  const x0 = xs[idx[0] as number] as number;
  const x1 = xs[idx[idx.length - 1] as number] as number;
  const sx = (x: number) => PAD.l + ((x - x0) / Math.max(1, x1 - x0)) * (W - PAD.l - PAD.r);
  const sy = (y: number) => PAD.t + (1 - (y - lo) / (hi - lo)) * (H - PAD.t - PAD.b);
  const paths = series
    .map((s, k) => {
      let d = '';
      let prevX = -Infinity;
      for (const i of idx) {
        const y = s.ys[i] as number;
        if (!Number.isFinite(y)) continue;
        const x = xs[i] as number;
        // Break the line across gaps longer than 1 hour (separate recordings).
        d += `${x - prevX > 3_600_000 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
        prevX = x;
      }
      return `<path d="${d}" fill="none" stroke="${COLORS[k % COLORS.length]}" stroke-width="1"/>`;
    })
    .join('');
  const ticks = [lo, (lo + hi) / 2, hi]
    .map((v) => `<text x="${PAD.l - 4}" y="${sy(v) + 4}" text-anchor="end">${esc(num(v, 5))}</text><line x1="${PAD.l}" x2="${W - PAD.r}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eee"/>`)
    .join('');
  const xt = [x0, x1].map((v, i) => `<text x="${sx(v)}" y="${H - 8}" text-anchor="${i ? 'end' : 'start'}">${esc(iso(v))}</text>`).join('');
  const zero = zeroLine ? `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${sy(0)}" y2="${sy(0)}" stroke="#999" stroke-dasharray="3 3"/>` : '';
  const legend = series.map((s, k) => `<tspan fill="${COLORS[k % COLORS.length]}">■ ${esc(s.name)}</tspan>`).join('  ');
  return `<svg viewBox="0 0 ${W} ${H + 16}" width="100%" role="img">${ticks}${zero}${paths}${xt}<text x="${PAD.l}" y="${H + 12}">${legend}</text></svg>`;
}

function barChart(labels: string[], groups: { name: string; values: number[] }[]): string {
  const n = labels.length;
  if (n === 0) return '<p>(no data)</p>';
  const rowH = 14 * groups.length + 8;
  const h = n * rowH + 24;
  const max = Math.max(...groups.flatMap((g) => g.values).filter(Number.isFinite), 1e-300);
  const lw = 190;
  const bw = W - lw - 90;
  let body = '';
  labels.forEach((lab, i) => {
    const y = i * rowH + 4;
    body += `<text x="${lw - 6}" y="${y + rowH / 2}" text-anchor="end">${esc(lab)}</text>`;
    groups.forEach((g, k) => {
      const v = g.values[i] as number;
      const w = Number.isFinite(v) ? (v / max) * bw : 0;
      body += `<rect x="${lw}" y="${y + k * 14}" width="${w.toFixed(1)}" height="12" fill="${COLORS[k % COLORS.length]}"/><text x="${lw + w + 4}" y="${y + k * 14 + 10}">${esc(num(v))}</text>`;
    });
  });
  const legend = groups.map((g, k) => `<tspan fill="${COLORS[k % COLORS.length]}">■ ${esc(g.name)}</tspan>`).join('  ');
  return `<svg viewBox="0 0 ${W} ${h}" width="100%" role="img">${body}<text x="${lw}" y="${h - 6}">${legend}</text></svg>`;
}

export function renderReport(input: ReportInput): string {
  const { meta, evaluation: ev } = input;
  const maxPoints = input.maxPoints ?? 1500;
  const contenders = (['model', 'persistence', 'ridge', 'current'] as const).filter((c) => ev.overall[c]);
  const s = ev.series;
  const residuals = s.model.map((p, i) => p - (s.actual[i] as number));
  const ridgeRes = s.ridge.map((p, i) => p - (s.actual[i] as number));
  const persRes = s.last.map((p, i) => p - (s.actual[i] as number));
  const imp = meta.feature_names.map((n, i) => ({ n, v: input.importance[i] ?? 0 })).sort((a, b) => b.v - a.v);
  const metricRow = (name: string, m: { n: number; mae: number; rmse: number; mape: number; directional_accuracy: number } | undefined) =>
    m ? `<tr><td>${esc(name)}</td><td>${m.n}</td><td>${num(m.mae)}</td><td>${num(m.rmse)}</td><td>${num(m.mape)}%</td><td>${num(m.directional_accuracy * 100, 3)}%</td></tr>` : '';
  const foldRows = ev.folds
    .map((f) =>
      contenders
        .map((c, k) => {
          const m = f.metrics[c];
          return m
            ? `<tr>${k === 0 ? `<td rowspan="${contenders.length}">${f.index}</td><td rowspan="${contenders.length}">${esc(iso(f.train_from_ms))} → ${esc(iso(f.train_to_ms))}<br>${f.train_rows} rows</td><td rowspan="${contenders.length}">${esc(iso(f.test_from_ms))} → ${esc(iso(f.test_to_ms))}<br>${f.test_rows} rows</td>` : ''}<td>${c}${c === 'current' && f.current_mode ? ` (${f.current_mode})` : ''}</td><td>${num(m.mae)}</td><td>${num(m.rmse)}</td><td>${num(m.mape)}%</td><td>${num(m.directional_accuracy * 100, 3)}%</td></tr>`
            : '';
        })
        .join(''),
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tickcast model ${esc(meta.version)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:960px;color:#222}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}svg text{font:11px sans-serif;fill:#333}.st{font-weight:bold}code{background:#f4f4f4;padding:0 3px}</style>
</head><body>
<h1>Model ${esc(meta.version)}</h1>
<p><span class="st">${esc(meta.status)}</span>: ${esc(meta.reason)}</p>
<table>
<tr><td>pair</td><td>${esc(meta.pair)}</td></tr>
<tr><td>model</td><td>${esc(meta.model_name)} (${esc(meta.kind)})</td></tr>
<tr><td>target</td><td>${esc(meta.target)}, horizon ${meta.horizon_s} s, candles ${meta.interval_s} s</td></tr>
<tr><td>data</td><td>${esc(iso(meta.data.from_ms))} → ${esc(iso(meta.data.to_ms))}, ${meta.data.rows} rows; dropped ${esc(JSON.stringify(meta.data.dropped))}; ${esc(meta.data.source)}</td></tr>
<tr><td>data sha256</td><td><code>${esc(meta.data.sha256)}</code></td></tr>
<tr><td>parameters</td><td><code>${esc(JSON.stringify(meta.params))}</code></td></tr>
<tr><td>search</td><td>${meta.search ? `${meta.search.trials} trials, ${(meta.search.elapsed_ms / 1000).toFixed(1)} s` : '–'}</td></tr>
<tr><td>compared with</td><td>${esc(meta.evaluation.compared_with ?? 'no production model')}${meta.evaluation.current_note ? ` (${esc(meta.evaluation.current_note)})` : ''}</td></tr>
<tr><td>code</td><td><code>${esc(meta.code_commit)}</code>; ${esc(Object.entries(meta.library_versions).map(([k, v]) => `${k} ${v}`).join(', '))}</td></tr>
</table>
<h2>Walk-forward: all test folds</h2>
<p>Prices; directional accuracy counts a predicted move of 0 as ½.</p>
<table><tr><th>contender</th><th>n</th><th>MAE</th><th>RMSE</th><th>MAPE</th><th>direction</th></tr>
${contenders.map((c) => metricRow(c, ev.overall[c])).join('')}
</table>
<h2>RMSE per fold against the baselines</h2>
${barChart(ev.folds.map((f) => `fold ${f.index}`), contenders.map((c) => ({ name: c, values: ev.folds.map((f) => f.metrics[c]?.rmse ?? Number.NaN) })))}
<table><tr><th>fold</th><th>train</th><th>test</th><th>contender</th><th>MAE</th><th>RMSE</th><th>MAPE</th><th>direction</th></tr>${foldRows}</table>
<h2>Predicted vs actual price (test folds)</h2>
${lineChart(s.t_ms, [{ name: 'actual (t + horizon)', ys: s.actual }, { name: 'model', ys: s.model }, { name: 'ridge', ys: s.ridge }], maxPoints)}
<h2>Residuals (predicted − actual)</h2>
${lineChart(s.t_ms, [{ name: 'model', ys: residuals }, { name: 'persistence', ys: persRes }, { name: 'ridge', ys: ridgeRes }], maxPoints, true)}
<h2>Feature importance (${meta.kind === 'lightgbm' ? 'gain' : '|standardized weight|'})</h2>
${barChart(imp.map((x) => x.n), [{ name: 'importance', values: imp.map((x) => x.v) }])}
</body></html>
`;
}

/** Scatter of points (log axes when asked) with the diagonal y = x. */
function scatter(xs: number[], ys: number[], xLabel: string, yLabel: string, opts: { log?: boolean; maxPoints?: number; fixed01?: boolean; sizes?: number[]; line?: boolean } = {}): string {
  const f = opts.log ? (v: number) => Math.log10(v) : (v: number) => v;
  const idx = thin(xs.length, opts.maxPoints ?? 2000).filter((i) => Number.isFinite(f(xs[i] as number)) && Number.isFinite(f(ys[i] as number)));
  if (idx.length === 0) return '<p>(no data)</p>';
  const S = 420;
  const P = 50;
  let lo = opts.fixed01 ? 0 : Math.min(...idx.map((i) => Math.min(f(xs[i] as number), f(ys[i] as number))));
  let hi = opts.fixed01 ? 1 : Math.max(...idx.map((i) => Math.max(f(xs[i] as number), f(ys[i] as number))));
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const sx = (v: number) => P + ((f(v) - lo) / (hi - lo)) * (S - P - 10);
  const sy = (v: number) => 10 + (1 - (f(v) - lo) / (hi - lo)) * (S - P - 10);
  const dots = idx.map((i) => `<circle cx="${sx(xs[i] as number).toFixed(1)}" cy="${sy(ys[i] as number).toFixed(1)}" r="${opts.sizes ? Math.max(2, Math.min(9, Math.sqrt(opts.sizes[i] as number))).toFixed(1) : 1.5}" fill="${COLORS[0]}" fill-opacity="${opts.sizes ? 0.8 : 0.35}"/>`).join('');
  const path = opts.line ? `<path d="${idx.map((i, k) => `${k ? 'L' : 'M'}${sx(xs[i] as number).toFixed(1)},${sy(ys[i] as number).toFixed(1)}`).join('')}" fill="none" stroke="${COLORS[0]}"/>` : '';
  const inv = opts.log ? (v: number) => 10 ** v : (v: number) => v;
  const ticks = [lo, (lo + hi) / 2, hi].map((v) => `<text x="${P - 4}" y="${sy(inv(v)) + 4}" text-anchor="end">${esc(num(inv(v), 3))}</text><text x="${sx(inv(v))}" y="${S - P + 16}" text-anchor="middle">${esc(num(inv(v), 3))}</text>`).join('');
  const diag = `<line x1="${sx(inv(lo))}" y1="${sy(inv(lo))}" x2="${sx(inv(hi))}" y2="${sy(inv(hi))}" stroke="#999" stroke-dasharray="4 3"/>`;
  return `<svg viewBox="0 0 ${S} ${S}" width="${S}" role="img">${diag}${dots}${path}${ticks}<text x="${S / 2}" y="${S - 12}" text-anchor="middle">${esc(xLabel)}</text><text x="12" y="${S / 2}" transform="rotate(-90 12 ${S / 2})" text-anchor="middle">${esc(yLabel)}</text></svg>`;
}

export interface TargetReportInput {
  meta: ModelMeta;
  evaluation: TargetEvaluation;
  candidates: TargetEvaluation[];
  dataset: Dataset;
  importance: number[];
}

function targetPicture(ev: TargetEvaluation, ds: Dataset): string {
  const rows = ev.series.rows;
  const model = ev.series.outputs.model ?? [];
  if (ev.target === 'volatility') {
    const real = rows.map((i) => Math.sqrt(ds.y[i] as number));
    const pred = model.map((o) => Math.sqrt(Math.max(o[0] as number, 0)));
    return `<h2>Predicted vs realized 5-minute volatility (test folds, log scales)</h2>${scatter(pred, real, 'predicted volatility', 'realized volatility', { log: true })}`;
  }
  if (ev.target === 'range') {
    const names = Object.keys(ev.overall);
    const terc = ['coverage90_low_vol', 'coverage90_mid_vol', 'coverage90_high_vol'];
    return `<h2>90% interval coverage by ex-ante volatility tercile (goal: 90%)</h2>${barChart(
      ['low volatility', 'middle', 'high volatility', 'all rows'],
      names.map((n) => ({ name: n, values: [...terc.map((t) => (ev.overall[n]?.[t] ?? Number.NaN) * 100), (ev.overall[n]?.coverage90 ?? Number.NaN) * 100] })),
    )}`;
  }
  if (ev.target === 'direction') {
    const bins = reliabilityBins(
      model.map((o) => o[0] as number),
      rows.map((i) => ds.y[i] as number),
    ).filter((b) => b.n > 0);
    return `<h2>Reliability diagram (10 bins; dot size = rows)</h2>${scatter(
      bins.map((b) => b.mean_p),
      bins.map((b) => b.freq),
      'mean predicted P(up)',
      'observed share of rises',
      { fixed01: true, sizes: bins.map((b) => b.n / Math.max(1, rows.length / 100)), line: true },
    )}<table><tr><th>bin</th><th>rows</th><th>mean P(up)</th><th>observed</th></tr>${bins.map((b, i) => `<tr><td>${i}</td><td>${b.n}</td><td>${num(b.mean_p)}</td><td>${num(b.freq)}</td></tr>`).join('')}</table>`;
  }
  return '';
}

/** The with/without order-book features rows (same folds and parameters), with what they can and cannot say. */
export function bookSection(meta: ModelMeta): string {
  const b = meta.evaluation.book_comparison;
  if (!b) return '';
  const metrics = [...new Set([...Object.keys(b.with_book), ...Object.keys(b.without_book)])];
  const row = (name: string, m: Record<string, number | null>) => `<tr><td>${esc(name)}</td>${metrics.map((k) => `<td>${k === 'n' ? String(m[k] ?? '–') : num(m[k], 5)}</td>`).join('')}</tr>`;
  return `<h2>With and without the order-book features (${esc(b.exchange)})</h2>
<p>${esc(b.note)}</p>
<table class="book"><tr><th>model</th>${metrics.map((k) => `<th>${esc(k)}</th>`).join('')}</tr>${row('with book features', b.with_book)}${row('without book features', b.without_book)}</table>`;
}

export function renderTargetReport(input: TargetReportInput): string {
  const { meta, evaluation: ev } = input;
  const target = targetOf(meta.target);
  const contenders = Object.keys(ev.overall);
  const metrics = [...new Set(contenders.flatMap((c) => Object.keys(ev.overall[c] ?? {})))];
  const descr = new Map(target.baselines.map((b) => [b.name, b.description]));
  const table = `<table><tr><th>contender</th>${metrics.map((m) => `<th>${esc(m)}</th>`).join('')}</tr>${contenders
    .map((c) => `<tr><td title="${esc(descr.get(c) ?? '')}">${esc(c)}${descr.has(c) ? `<br><small>${esc(descr.get(c)!)}</small>` : ''}</td>${metrics.map((m) => `<td>${m === 'n' ? String(ev.overall[c]?.[m] ?? '–') : num(ev.overall[c]?.[m], 5)}</td>`).join('')}</tr>`)
    .join('')}</table>`;
  const pm = target.primaryMetric;
  // The per-fold picture leaves out contenders far off the scale (e.g. persistence QLIKE with zero-volatility windows): they stay in the tables.
  const bestPm = Math.min(...contenders.map((c) => ev.overall[c]?.[pm] ?? Infinity));
  const drawn = contenders.filter((c) => (ev.overall[c]?.[pm] ?? Infinity) <= 10 * bestPm);
  const left = contenders.filter((c) => !drawn.includes(c));
  const imp = meta.feature_names.map((n, i) => ({ n, v: input.importance[i] ?? 0 })).sort((a, b) => b.v - a.v);
  const cand = `<table><tr><th>parameters</th><th>rank (lower is better)</th><th>${esc(pm)}</th></tr>${input.candidates
    .map((c) => `<tr><td><code>${esc(JSON.stringify(Object.fromEntries(Object.entries(c.params).filter(([k]) => ['method', 'objective', 'num_leaves', 'learning_rate', 'min_data_in_leaf'].includes(k)))))}</code></td><td>${num(target.rank(c.overall.model!), 5)}</td><td>${num(c.overall.model?.[pm], 5)}</td></tr>`)
    .join('')}</table>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tickcast model ${esc(meta.version)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}svg text{font:11px sans-serif;fill:#333}.st{font-weight:bold}code{background:#f4f4f4;padding:0 3px}small{color:#666}table.meta td{text-align:left}table.meta code{word-break:break-all}</style>
</head><body>
<h1>Model ${esc(meta.version)}</h1>
<p><span class="st">${esc(meta.status)}</span>: ${esc(meta.reason)}</p>
<table class="meta">
<tr><td>pair</td><td>${esc(meta.pair)}</td></tr>
<tr><td>target</td><td>${esc(meta.target)}: ${esc(target.description)}; horizon ${meta.horizon_s} s, candles ${meta.interval_s} s</td></tr>
<tr><td>model</td><td>${esc(meta.model_name)} (${esc(meta.kind)})</td></tr>
<tr><td>data</td><td>${esc(iso(meta.data.from_ms))} → ${esc(iso(meta.data.to_ms))}, ${meta.data.rows} rows; dropped ${esc(JSON.stringify(meta.data.dropped))}; ${esc(meta.data.source)}</td></tr>
<tr><td>parameters</td><td><code>${esc(JSON.stringify(meta.params))}</code></td></tr>
<tr><td>compared with</td><td>${esc(meta.evaluation.compared_with ?? 'no production model')}${meta.evaluation.current_note ? ` (${esc(meta.evaluation.current_note)})` : ''}</td></tr>
<tr><td>code</td><td><code>${esc(meta.code_commit)}</code>; ${esc(Object.entries(meta.library_versions).map(([k, v]) => `${k} ${v}`).join(', '))}</td></tr>
</table>
<h2>Walk-forward: all test folds, against every baseline</h2>
${table}
<h2>${esc(pm)} per fold</h2>
${left.length ? `<p>Left out of the picture (more than 10x the best; see the table): ${esc(left.join(', '))}.</p>` : ''}
${barChart(ev.folds.map((f) => `fold ${f.index} (${f.test_rows} rows)`), drawn.map((c) => ({ name: c, values: ev.folds.map((f) => f.scores[c]?.[pm] ?? Number.NaN) })))}
<h2>Candidates compared on the same folds</h2>
${cand}
${bookSection(meta)}
${targetPicture(ev, input.dataset)}
<h2>Feature importance (gain)</h2>
${barChart(imp.map((x) => x.n), [{ name: 'importance', values: imp.map((x) => x.v) }])}
</body></html>
`;
}
