/**
 * `tickcast record` and `tickcast replay-book`: record the raw order-book traffic of the
 * Kraken WS v2 `book` channel and Binance's diff depth (+ REST snapshots) to a compressed file
 * (book-recording.ts), and turn such a file back into the book features the live sources
 * computed (bit for bit).
 */
import type { Command } from 'commander';
import type { BookFeatures } from '../contracts/messages.ts';
// The sources and the recording are imported in the actions: the other
// commands and --help start without them.

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

function printFeatures(rows: readonly BookFeatures[]): void {
  for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
}

export function addBookCommands(program: Command): void {
  program
    .command('record')
    .description('record the raw order-book frames (Kraken WS v2 book, Binance depth + REST snapshots) to a gzip JSON-lines file; prints the book features as they close')
    .requiredOption('--out <file>', 'the recording to write (.jsonl.gz)')
    .option('--kraken-pairs <list>', 'Kraken pairs, e.g. BTC/USD,ETH/USD', list, [] as string[])
    .option('--binance-pairs <list>', 'Binance pairs, e.g. BTC/USDT', list, [] as string[])
    .option('--depth <n>', 'Kraken book depth (10, 25, 100, 500, 1000)', (v: string) => parseInt(v, 10), 10)
    .option('--duration-s <s>', 'stop after this long (default: until Ctrl-C)', parseFloat)
    .option('--kraken-url <url>', 'Kraken WS v2 URL (default wss://ws.kraken.com/v2)')
    .option('--binance-url <url>', 'Binance WS base URL (default wss://stream.binance.com:9443)')
    .option('--binance-rest-url <url>', 'Binance REST base URL (default https://api.binance.com)')
    .action(async (o: { out: string; krakenPairs: string[]; binancePairs: string[]; depth: number; durationS?: number; krakenUrl?: string; binanceUrl?: string; binanceRestUrl?: string }) => {
      if (o.krakenPairs.length === 0 && o.binancePairs.length === 0) throw new Error('record: give --kraken-pairs and/or --binance-pairs');
      const [{ createLogger }, { BookRecorder }, { KrakenBookSource }, { BinanceDepthSource }] = await Promise.all([
        import('../ops/logger.ts'),
        import('./book-recording.ts'),
        import('./kraken-book.ts'),
        import('./binance-depth.ts'),
      ]);
      const logger = createLogger({ name: 'record', destination: process.stderr }); // stdout carries the features
      const recorder = new BookRecorder(o.out);
      const sink = { bookFeatures: async (b: BookFeatures[]) => printFeatures(b), reject: (_raw: string, why: string) => logger.warn({ why }, 'book input refused'), rawFrame: recorder.rawFrame };
      const sources: { run(s: typeof sink): Promise<void>; stop(): Promise<void> }[] = [];
      if (o.krakenPairs.length) sources.push(new KrakenBookSource({ pairs: o.krakenPairs, depth: o.depth, logger, ...(o.krakenUrl ? { url: o.krakenUrl } : {}) }));
      if (o.binancePairs.length) sources.push(new BinanceDepthSource({ pairs: o.binancePairs, logger, ...(o.binanceUrl ? { url: o.binanceUrl } : {}), ...(o.binanceRestUrl ? { restBaseUrl: o.binanceRestUrl } : {}) }));
      const running = sources.map((s) => s.run(sink));
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
        if (o.durationS !== undefined) setTimeout(done, o.durationS * 1000).unref();
      });
      await Promise.all(sources.map((s) => s.stop()));
      await Promise.all(running);
      await recorder.close();
      logger.info({ frames: recorder.frames, out: o.out }, 'recording written');
    });

  program
    .command('replay-book')
    .description('replay a recording of `tickcast record`: print the book features (JSON lines) the live run computed')
    .argument('<file>', 'the recording (.jsonl.gz)')
    .option('--kraken-pairs <list>', 'Kraken pairs recorded', list, [] as string[])
    .option('--binance-pairs <list>', 'Binance pairs recorded', list, [] as string[])
    .option('--depth <n>', 'Kraken book depth recorded', (v: string) => parseInt(v, 10), 10)
    .option('--end-ms <t>', 'also close the minutes ending at or before this time (epoch ms)', parseFloat)
    .action(async (path: string, o: { krakenPairs: string[]; binancePairs: string[]; depth: number; endMs?: number }) => {
      const { readBookRecording, replayBookRecording } = await import('./book-recording.ts');
      const rows = await replayBookRecording(readBookRecording(path), { krakenPairs: o.krakenPairs, krakenDepth: o.depth, binancePairs: o.binancePairs, ...(o.endMs !== undefined ? { endMs: o.endMs } : {}) });
      printFeatures(rows);
    });
}
