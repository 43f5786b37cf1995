/**
 * The README's walk-forward table of the targets beside the price: every
 * target trained walk-forward (4 folds, as `tickcast train`) on candle files,
 * against every baseline of the target, printed as markdown. Nothing is
 * registered. Slow on big files (the FTX month: minutes per target).
 *
 *   node --import tsx ts/src/training/walk-forward-table.ts [--targets volatility,range,direction] <pair>=<candle csv> ...
 */
import { basename } from 'node:path';
import { readCandleCsv } from './candle-csv.ts';
import { buildDataset, technicalRowsFromCandles } from './dataset.ts';
import { trainTarget } from './target-trainer.ts';
import { targetOf } from '../model/targets.ts';
import { decidePromotion } from '../registry/promotion.ts';

const args = process.argv.slice(2);
let targets = ['volatility', 'range', 'direction'];
const files: { pair: string; path: string }[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i] as string;
  if (a === '--targets') targets = (args[++i] ?? '').split(',');
  else {
    const [pair, path] = a.split('=');
    if (!pair || !path) throw new Error(`expected <pair>=<csv>, got ${a}`);
    files.push({ pair, path });
  }
}

const f = (x: number | null | undefined, d = 4) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toPrecision(d));
const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(1)}%`);

for (const { pair, path } of files) {
  const { segments } = readCandleCsv(path, { pair });
  const { names, rows } = technicalRowsFromCandles(segments);
  for (const name of targets) {
    const started = Date.now();
    const ds = buildDataset({ pair, technical: rows, technicalNames: names, horizonS: 300, target: name });
    const r = trainTarget({ dataset: ds, folds: 4, source: path, onProgress: (s, d, t) => process.stderr.write(`${basename(path)} ${name}: ${s} ${d}/${t}\n`) });
    const d = decidePromotion(r.meta);
    const sc = r.meta.evaluation.scores ?? {};
    const t = targetOf(name);
    process.stdout.write(`\n### ${basename(path)} ${pair}: ${name} (${ds.rows} rows, dropped ${JSON.stringify(ds.dropped)}, ${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    process.stdout.write(`rule: ${d.promote ? 'promote' : 'reject'}: ${d.reason}\n`);
    for (const c of r.candidates) process.stdout.write(`candidate ${JSON.stringify({ method: c.params.method, objective: c.params.objective })}: rank ${f(t.rank(c.overall.model!), 5)} ${JSON.stringify(c.overall.model)}\n`);
    if (name === 'volatility') {
      process.stdout.write('| contender | QLIKE | RMSE log vol |\n| --- | --- | --- |\n');
      for (const [c, m] of Object.entries(sc)) process.stdout.write(`| ${c} | ${f(m.qlike)} | ${f(m.rmse_log_vol)} |\n`);
    } else if (name === 'range') {
      process.stdout.write('| contender | cov 80% | cov 90% | 90% low/mid/high vol | width 90% (bp) | pinball (bp) | interval score 90% (bp) | interval score 80% (bp) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n');
      for (const [c, m] of Object.entries(sc))
        process.stdout.write(`| ${c} | ${pct(m.coverage80)} | ${pct(m.coverage90)} | ${pct(m.coverage90_low_vol)} / ${pct(m.coverage90_mid_vol)} / ${pct(m.coverage90_high_vol)} | ${f(m.width90_bp)} | ${f(m.pinball_bp)} | ${f(m.interval_score90_bp)} | ${f(m.interval_score80_bp)} |\n`);
    } else {
      process.stdout.write('| contender | Brier | log loss | ECE | up rate |\n| --- | --- | --- | --- | --- |\n');
      for (const [c, m] of Object.entries(sc)) process.stdout.write(`| ${c} | ${f(m.brier, 5)} | ${f(m.log_loss, 5)} | ${f(m.ece, 3)} | ${pct(m.up_rate)} |\n`);
    }
  }
}
