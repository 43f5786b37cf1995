/**
 * `tickcast train --pair BTC/USD [--every 3h]` and
 * `tickcast models list|promote <version>|rollback --pair P|report <version>`.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/config.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { TrainingSource } from './training-run.ts';
import { MODEL_KINDS, defaultKind, type ModelKind } from '../model/backends.ts';
import { TARGETS, families, targetOf } from '../model/targets.ts';

// The registry, the stores and the training run are imported in the actions:
// the other commands and --help start without them.

/** registryOf (registry/index.ts), imported on use. */
async function registryOfConfig(config: Config): Promise<ModelRegistry> {
  const { registryOf } = await import('../registry/index.ts');
  return registryOf(config);
}

/** "3h", "30m", "90s", "1d" -> milliseconds. */
export function parseEvery(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(v.trim());
  if (!m) throw new Error(`--every ${JSON.stringify(v)}: expected a number and a unit, e.g. 30m, 3h, 1d`);
  const ms = Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  if (ms < 60_000) throw new Error('--every must be at least 1m');
  return ms;
}

interface TrainFlags {
  pair: string;
  every?: string;
  file?: string;
  kind?: string;
  target: string;
  horizon: string;
  folds: string;
  trials: string;
  budget: string;
}

export function addTrainCommand(program: Command, configOf: () => Config): void {
  program
    .command('train')
    .description('train a model for a pair (walk-forward vs baselines, bounded search), register it, promote it if it beats persistence and production')
    .requiredOption('--pair <pair>', 'pair, e.g. BTC/USD')
    .option('--every <interval>', 'retrain on a schedule (e.g. 3h) until interrupted')
    .option('--file <csv>', 'train on a candle CSV (Lean or FTX format) instead of the feature store')
    .option('--kind <kind>', `${MODEL_KINDS.join(' or ')} (default: lightgbm when the binding is built)`)
    .option('--target <target>', `${[...TARGETS.keys()].join(', ')}`, 'log_return')
    .option('--horizon <seconds>', 'prediction horizon', '300')
    .option('--folds <n>', 'walk-forward folds', '4')
    .option('--trials <n>', 'hyper-parameter search trials (bounded)', '6')
    .option('--budget <seconds>', 'search time budget', '300')
    .addHelpText('after', '\nExamples:\n  tickcast train --pair BTC/USD\n  tickcast train --pair BTC/USD --every 3h\n  tickcast train --pair BTC/USD --file data/sample/candles/coinbase_BTCUSD_1m_lean.csv')
    .action(async (o: TrainFlags) => {
      const [{ createLogger }, { registryOf }, { openStores, storesConfigOf }, { runTraining }] = await Promise.all([
        import('../ops/logger.ts'),
        import('../registry/index.ts'),
        import('../stores/index.ts'),
        import('./training-run.ts'),
      ]);
      const config = configOf();
      const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel });
      let every: number | null = null;
      try {
        if (!/^[A-Z0-9]+\/[A-Z0-9]+$/.test(o.pair)) throw new Error(`--pair ${JSON.stringify(o.pair)}: expected BASE/QUOTE in capitals, e.g. BTC/USD`);
        if (o.every) every = parseEvery(o.every);
        if (o.kind && !(MODEL_KINDS as readonly string[]).includes(o.kind)) throw new Error(`--kind must be ${MODEL_KINDS.join(' or ')}`);
        if (!TARGETS.has(o.target)) throw new Error(`--target must be one of ${[...TARGETS.keys()].join(', ')}`);
      } catch (e) {
        process.stderr.write(`tickcast train: ${(e as Error).message}\n`);
        process.exit(2);
      }
      const registry = registryOf(config);
      const stores = o.file ? null : await openStores(storesConfigOf(config), logger);
      const source: TrainingSource = o.file ? { kind: 'file', path: resolve(o.file) } : { kind: 'store', stores: stores! };
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const cliProgress = process.stderr.isTTY === true ? (await import('cli-progress')).default : null;
      const once = async () => {
        const bar = cliProgress ? new cliProgress.SingleBar({ format: `train ${o.pair} |{bar}| {stage} {value}/{total}`, hideCursor: true }, cliProgress.Presets.shades_classic) : null;
        let stage = '';
        const started = Date.now();
        const res = await runTraining({
          registry,
          pair: o.pair,
          source,
          kind: (o.kind as ModelKind | undefined) ?? defaultKind(),
          target: o.target,
          horizonS: Number(o.horizon),
          folds: Number(o.folds),
          trials: Number(o.trials),
          budgetMs: Number(o.budget) * 1000,
          logger,
          onProgress: (s, done, total) => {
            if (bar) {
              if (s !== stage) {
                if (stage) bar.stop();
                bar.start(total, done, { stage: s });
                stage = s;
              } else bar.update(done, { stage: s });
            } else if (s !== stage || done === total) {
              stage = s;
              process.stderr.write(`train ${o.pair}: ${s} ${done}/${total} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
            }
          },
        });
        bar?.stop();
        if (targetOf(res.meta.target).family !== 'price') {
          const sc = res.meta.evaluation.scores ?? {};
          const pm = targetOf(res.meta.target).primaryMetric;
          const bc = res.meta.evaluation.book_comparison;
          process.stdout.write(
            `model ${res.meta.version} (${res.meta.target}, ${res.meta.kind}, ${res.dataset.rows} rows, dropped ${JSON.stringify(res.dataset.dropped)}): ${res.meta.status}: ${res.meta.reason}\n` +
              Object.entries(sc).map(([c, m]) => `  ${c.padEnd(14)} ${pm} ${m[pm]?.toPrecision(5) ?? '-'}  ${Object.entries(m).filter(([k]) => k !== pm && k !== 'n').map(([k, v]) => `${k} ${v === null ? '-' : v.toPrecision(4)}`).join('  ')}\n`).join('') +
              (bc ? `  order book (${bc.exchange}): ${pm} with ${bc.with_book[pm]?.toPrecision(5) ?? '-'}, without ${bc.without_book[pm]?.toPrecision(5) ?? '-'}. ${bc.note}\n` : '') +
              `  report: ${registry.kind === 'folder' ? resolve(config.dataDir, 'models', res.meta.version, 'report.html') : `tickcast models report ${res.meta.version}`}\n`,
          );
          return;
        }
        const ov = res.meta.evaluation.overall;
        const line = (n: string, m?: { rmse: number; mae: number; mape: number; directional_accuracy: number | null }) =>
          m ? `  ${n.padEnd(12)} RMSE ${m.rmse.toFixed(4)}  MAE ${m.mae.toFixed(4)}  MAPE ${m.mape.toFixed(4)}%  direction ${m.directional_accuracy === null ? '-' : (m.directional_accuracy * 100).toFixed(2)}%\n` : '';
        process.stdout.write(
          `model ${res.meta.version} (${res.meta.kind}, ${res.dataset.rows} rows, dropped ${JSON.stringify(res.dataset.dropped)}): ${res.meta.status}: ${res.meta.reason}\n` +
            line('model', ov.model) + line('persistence', ov.persistence) + line('ridge', ov.ridge) + line('current', ov.current) +
            `  report: ${registry.kind === 'folder' ? resolve(config.dataDir, 'models', res.meta.version, 'report.html') : `tickcast models report ${res.meta.version}`}\n`,
        );
      };
      try {
        for (;;) {
          try {
            await once();
          } catch (e) {
            process.stderr.write(`tickcast train: ${(e as Error).message}\n`);
            if (every === null) process.exitCode = 1;
          }
          if (every === null || ac.signal.aborted) break;
          process.stderr.write(`next training at ${new Date(Date.now() + every).toISOString()}\n`);
          await new Promise<void>((r) => {
            const t = setTimeout(r, every!);
            ac.signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
          });
          if (ac.signal.aborted) break;
        }
      } finally {
        await stores?.close();
        await registry.close();
      }
    });
}

export function addModelsCommand(program: Command, configOf: () => Config): void {
  const models = program.command('models').description('the model registry: list versions, promote one, roll back');
  models
    .command('list')
    .description('versions, newest first, with status and walk-forward RMSE against persistence')
    .option('--pair <pair>', 'only this pair')
    .option('--json', 'print the metas as JSON')
    .action(async (o: { pair?: string; json?: boolean }) => {
      const { familyOf } = await import('../registry/model-registry.ts');
      const registry = await registryOfConfig(configOf());
      try {
        const list = await registry.list(o.pair);
        if (o.json) {
          process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          return;
        }
        const prod = new Set<string>();
        for (const p of new Set(list.map((m) => m.pair))) {
          for (const t of families()) {
            const v = await registry.production(p, t.family);
            if (v) prod.add(v);
          }
        }
        if (list.length === 0) process.stdout.write('no models yet: tickcast train --pair BTC/USD\n');
        for (const m of list) {
          const ov = m.evaluation.overall;
          const fam = familyOf(m);
          const pm = targetOf(m.target).primaryMetric;
          const score = fam === 'price' ? `rmse ${ov.model?.rmse.toFixed(4) ?? '-'} vs persistence ${ov.persistence?.rmse.toFixed(4) ?? '-'}` : `${pm} ${m.evaluation.scores?.model?.[pm]?.toPrecision(5) ?? '-'}`;
          process.stdout.write(
            `${prod.has(m.version) ? '*' : ' '} ${m.version.padEnd(48)} ${m.pair.padEnd(9)} ${m.target.padEnd(10)} ${m.kind.padEnd(8)} ${m.status.padEnd(11)} ${score}  ${new Date(m.created_ms).toISOString()}  ${m.reason}\n`,
          );
        }
      } finally {
        await registry.close();
      }
    });
  models
    .command('promote <version>')
    .description('make a version the production model of its pair (by hand: the rule is not applied)')
    .action(async (version: string) => {
      const registry = await registryOfConfig(configOf());
      try {
        const m = await registry.promote(version, 'promoted by command');
        process.stdout.write(`${m.pair}: production is now ${m.version}\n`);
      } catch (e) {
        process.stderr.write(`tickcast models promote: ${(e as Error).message}\n`);
        process.exitCode = 1;
      } finally {
        await registry.close();
      }
    });
  models
    .command('rollback')
    .description('put the previous production model of a pair (and target) back')
    .requiredOption('--pair <pair>', 'pair, e.g. BTC/USD')
    .option('--target <family>', `target family: ${families().map((t) => t.family).join(', ')}`, 'price')
    .action(async (o: { pair: string; target: string }) => {
      const registry = await registryOfConfig(configOf());
      try {
        const r = await registry.rollback(o.pair, Date.now(), o.target);
        process.stdout.write(`${o.pair}: production rolled back from ${r.from} to ${r.to}\n`);
      } catch (e) {
        process.stderr.write(`tickcast models rollback: ${(e as Error).message}\n`);
        process.exitCode = 1;
      } finally {
        await registry.close();
      }
    });
  models
    .command('report <version>')
    .description('print the HTML report of a version')
    .action(async (version: string) => {
      const registry = await registryOfConfig(configOf());
      try {
        const html = await registry.report(version);
        if (html === null) throw new Error(`no report for ${version}`);
        process.stdout.write(html);
      } catch (e) {
        process.stderr.write(`tickcast models report: ${(e as Error).message}\n`);
        process.exitCode = 1;
      } finally {
        await registry.close();
      }
    });
}
