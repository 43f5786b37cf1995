/**
 * The logger factory: structured JSON lines (pino) on stdout, secrets redacted.
 * Modules take a `Logger` parameter and make children (`logger.child({ service })`);
 * only entry points call `createLogger`.
 */
import { pino, destination, stdSerializers, stdTimeFunctions, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';
import { PINO_REDACT_PATHS, REDACTED } from '../config/redact.ts';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Bound to every line, e.g. the process role. */
  name?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to capture them. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      name: opts.name ?? 'tickcast',
      base: { pid: process.pid },
      timestamp: stdTimeFunctions.isoTime,
      redact: { paths: PINO_REDACT_PATHS, censor: REDACTED },
      serializers: { err: stdSerializers.err },
    },
    opts.destination ?? destination({ fd: 1, sync: false }),
  );
}

/** A logger that writes nothing (tests, libraries used standalone). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
