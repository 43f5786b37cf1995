/**
 * The logger factory: structured JSON lines (pino) on stdout, secrets redacted;
 * readable lines (pino-pretty) instead when stdout is a terminal, so `make run`
 * in a shell is legible while pipes, files, containers and log shippers get JSON.
 * Modules take a `Logger` parameter and make children (`logger.child({ service })`);
 * only entry points call `createLogger`.
 *
 * pino-pretty runs as a stream in this thread rather than as a worker transport:
 * a terminal needs no throughput, and lines then leave in order up to the exit.
 * Redaction happens in pino before either format.
 */
import { createRequire } from 'node:module';
import { pino, destination, stdSerializers, stdTimeFunctions, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';
import type PinoPretty from 'pino-pretty';
import { PINO_REDACT_PATHS, REDACTED } from '../config/redact.ts';

// pino-pretty is required only on a terminal: commands whose output is piped
// (the backfill benchmark, containers) start without loading it.
const require = createRequire(import.meta.url);

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Bound to every line, e.g. the process role. */
  name?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to capture them. */
  destination?: DestinationStream;
}

/** How lines are written to a stream: readable on a terminal, JSON lines otherwise. */
export function logFormatFor(out: { isTTY?: boolean }): 'pretty' | 'json' {
  return out.isTTY === true ? 'pretty' : 'json';
}

function stdoutDestination(): DestinationStream {
  if (logFormatFor(process.stdout) === 'json') return destination({ fd: 1, sync: false });
  const pretty = require('pino-pretty') as typeof PinoPretty;
  return pretty({ destination: 1, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
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
    opts.destination ?? stdoutDestination(),
  );
}

/** A logger that writes nothing (tests, libraries used standalone). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
