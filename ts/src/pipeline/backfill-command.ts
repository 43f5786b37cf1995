/**
 * `tickcast backfill`: historical trades into candles and features in the
 * feature store, with a progress bar (rate, ETA), resumable after a kill.
 */
import { resolve, join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import type { Config } from '../config/config.ts';
import type { BackfillProgress } from './backfill.ts';

function parseDateMs(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v);
  if (!Number.isFinite(ms)) throw new Error(`${flag} ${JSON.stringify(v)} is not a date: use YYYY-MM-DD, an ISO 8601 time (2024-01-31T12:00:00Z) or epoch milliseconds`);
  return ms;
}

export function addBackfillCommand(program: Command, configOf: () => Config): void {
  program
    .command('backfill')
    .description('historical trades -> candles -> technical features in the feature store (resumable, idempotent)')
    .option('--exchange <name>', 'exchange of the trades', 'kraken')
    .requiredOption('--pair <pair>', 'pair, e.g. BTC/USD')
    .option('--from <date>', 'start, inclusive (YYYY-MM-DD, ISO time or epoch ms); required without --file')
    .option('--to <date>', 'end, exclusive; default: until caught up (REST) or the end of the file')
    .option('--file <csv>', 'import a trade CSV (Kraken history unix_time,price,volume, or the formats of data/sample/trades) instead of the exchange API')
    .option('--interval <seconds>', 'candle length in seconds', '60')
    .option('--checkpoint <file>', 'checkpoint file (default: in TICKCAST_DATA_DIR/backfill/)')
    .option('--fresh', 'ignore an existing checkpoint and start over (rows are upserted, so nothing duplicates)')
    .addHelpText(
      'after',
      '\nExamples:\n  tickcast backfill --pair BTC/USD --from 2024-01-01 --to 2024-01-02\n  tickcast backfill --pair ETH/USD --file XETHZUSD.csv\nKill it at any time: running the same command again resumes from the checkpoint.',
    )
    .action(async (o: { exchange: string; pair: string; from?: string; to?: string; file?: string; interval: string; checkpoint?: string; fresh?: boolean }) => {
      // Loaded here, not at the top of the file: the other commands and --help start without them.
      const [{ createLogger }, { runBackfill, checkpointKey }, { openStores, storesConfigOf }] = await Promise.all([
        import('../ops/logger.ts'),
        import('./backfill.ts'),
        import('../stores/index.ts'),
      ]);
      const config = configOf();
      const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel });
      let fromMs: number | undefined;
      let toMs: number | undefined;
      try {
        fromMs = parseDateMs('--from', o.from);
        toMs = parseDateMs('--to', o.to);
        if (!o.file && fromMs === undefined) throw new Error('--from is required unless --file is given');
        if (fromMs !== undefined && toMs !== undefined && toMs <= fromMs) throw new Error('--to must be after --from');
        if (!/^[A-Z0-9]+\/[A-Z0-9]+$/.test(o.pair)) throw new Error(`--pair ${JSON.stringify(o.pair)}: expected BASE/QUOTE in capitals, e.g. BTC/USD`);
      } catch (e) {
        process.stderr.write(`tickcast backfill: ${(e as Error).message}\n`);
        process.exit(2);
      }
      const intervalS = Number(o.interval);
      const file = o.file ? resolve(o.file) : undefined;
      const key = checkpointKey({ exchange: o.exchange, pair: o.pair, fromMs, toMs, file, intervalS });
      const checkpointPath = o.checkpoint ?? join(config.dataDir, 'backfill', `${createHash('sha256').update(key).digest('hex').slice(0, 16)}.json`);
      if (o.fresh) {
        const { rmSync } = await import('node:fs');
        rmSync(checkpointPath, { force: true });
      }
      const stores = await openStores(storesConfigOf(config), logger);
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const tty = process.stderr.isTTY === true;
      const cliProgress = tty ? (await import('cli-progress')).default : null;
      const span = fromMs !== undefined && toMs !== undefined ? toMs - fromMs : null;
      const bar = cliProgress
        ? new cliProgress.SingleBar(
            { format: `${o.pair} |{bar}| {percentage}% | {trades} trades, {candles} candles | {rate} trades/s | ETA {eta_formatted} | at {at}`, hideCursor: true },
            cliProgress.Presets.shades_classic,
          )
        : null;
      const started = Date.now();
      let lastLog = 0;
      bar?.start(span !== null ? 1000 : 1, 0, { trades: 0, candles: 0, rate: 0, at: '-' });
      const show = (p: BackfillProgress) => {
        const rate = Math.round(p.trades / Math.max(0.001, (Date.now() - started) / 1000));
        const at = p.cursorMs === null ? '-' : new Date(p.cursorMs).toISOString().slice(0, 19) + 'Z';
        const frac = span !== null && p.cursorMs !== null && fromMs !== undefined ? Math.min(1, (p.cursorMs - fromMs) / span) : 0;
        if (bar) bar.update(span !== null ? Math.round(frac * 1000) : 0, { trades: p.trades, candles: p.candles, rate, at });
        else if (Date.now() - lastLog > 5000) {
          lastLog = Date.now();
          process.stderr.write(`backfill ${o.pair}: ${p.trades} trades, ${p.candles} candles, ${p.featureRows} feature rows, ${rate} trades/s, at ${at}\n`);
        }
      };
      try {
        const res = await runBackfill({
          exchange: o.exchange,
          pair: o.pair,
          ...(fromMs !== undefined ? { fromMs } : {}),
          ...(toMs !== undefined ? { toMs } : {}),
          ...(file ? { file } : {}),
          intervalS,
          checkpointPath,
          stores,
          logger,
          onProgress: show,
          signal: ac.signal,
        });
        bar?.stop();
        process.stdout.write(
          `backfill ${o.pair} done${res.resumed ? ' (resumed)' : ''}: ${res.trades} trades -> ${res.candles} candles, ${res.featureRows} feature rows; ${res.late} late, ${res.duplicates} duplicate, ${res.rejected} rejected; checkpoint ${checkpointPath}\n`,
        );
      } catch (e) {
        bar?.stop();
        process.stderr.write(`tickcast backfill: ${(e as Error).message}\n`);
        process.exitCode = ac.signal.aborted ? 130 : 1;
      } finally {
        await stores.close();
      }
    });
}
