/**
 * Graceful shutdown on SIGTERM / SIGINT: the first signal runs the shutdown
 * (bounded by a timeout) and exits 0 when it completed, 1 when it failed or
 * timed out; a second signal exits 1 at once.
 */
import type { Logger } from 'pino';

export interface ShutdownOptions {
  logger: Logger;
  timeoutMs: number;
  /** Defaults to process.exit; tests inject their own. */
  exit?: (code: number) => void;
  signals?: NodeJS.Signals[];
}

/** Installs the handlers; returns a function that removes them. */
export function onShutdownSignals(shutdown: (signal: string) => Promise<void>, opts: ShutdownOptions): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  let shuttingDown = false;
  const handler = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      opts.logger.warn({ signal }, 'second signal: exiting now');
      opts.logger.flush();
      exit(1);
      return;
    }
    shuttingDown = true;
    opts.logger.info({ signal, timeout_ms: opts.timeoutMs }, 'shutting down');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`shutdown took longer than ${opts.timeoutMs} ms`)), opts.timeoutMs);
      timer.unref();
    });
    Promise.race([shutdown(signal), timeout])
      .then(
        () => {
          opts.logger.info('shutdown complete');
          return 0;
        },
        (err: unknown) => {
          opts.logger.error({ err }, 'shutdown failed');
          return 1;
        },
      )
      .then((code) => {
        clearTimeout(timer);
        opts.logger.flush(() => exit(code));
      });
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
