/**
 * The service runner: starts named services in one process around one bus,
 * serves /metrics /healthz /readyz, and shuts down gracefully.
 *
 * Shutdown order (so nothing in flight is lost):
 *   1. not ready any more; ctx.signal aborts (sources stop producing);
 *   2. services stop in start order, upstream first; each stops consuming and
 *      flushes. On the in-process bus the runner drains after each, so
 *      downstream services still receive everything upstream emitted;
 *   3. leftover consumers stop (in-flight messages finish, offsets commit);
 *   4. the bus disconnects, the stores close (flush).
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { redactConfig } from '../config/config.ts';
import { createBus, type Bus } from '../bus/index.ts';
import type { Stores } from '../stores/types.ts';
import { storesConfigOf } from '../stores/stores-config.ts';
import { enableProcessMetrics, serviceUp } from '../ops/metrics.ts';
import { startOpsServer, type OpsServer } from '../ops/ops-server.ts';
import { onShutdownSignals } from '../ops/shutdown.ts';

export interface ServiceContext {
  config: Config;
  /** A child logger bound to the service name. */
  logger: Logger;
  bus: Bus;
  /** The stores, opened on first use and shared by the services of the process; the runner closes them. */
  stores(): Promise<Stores>;
  /** Aborted when the process starts shutting down. */
  signal: AbortSignal;
  /**
   * The service cannot go on (e.g. its source failed for good): the process
   * reports not ready, shuts down and exits non-zero, so it is restarted.
   * Absent outside a process (tests): the service then only logs.
   */
  fail?: (err: unknown) => void;
}

export interface Service {
  readonly name: string;
  /** Resolve once the service runs (subscriptions made, timers set). */
  start(ctx: ServiceContext): Promise<void>;
  /** Stop consuming and producing, finish work in flight, flush. */
  stop(): Promise<void>;
  /** False while the service cannot do its work (its source failed, its output is not accepted). Default: ready. */
  ready?(): boolean;
}

export { storesConfigOf } from '../stores/stores-config.ts';

export interface RunnerOptions {
  config: Config;
  logger: Logger;
  /** Defaults to the bus of the configuration. */
  bus?: Bus;
  /** Defaults to openStores(storesConfigOf(config)). */
  openStores?: () => Promise<Stores>;
  /** Bound on the in-process drain after each service stops (default 10 s). */
  drainTimeoutMs?: number;
  /** Given to services as ctx.fail (runProcess: shut down, exit 1). */
  onServiceFailure?: (service: string, err: unknown) => void;
}

export class Runner {
  readonly bus: Bus;
  private readonly log: Logger;
  private readonly started: Service[] = [];
  private readonly abort = new AbortController();
  private storesPromise: Promise<Stores> | null = null;
  private running = false;
  private stopping: Promise<void> | null = null;

  constructor(private readonly opts: RunnerOptions) {
    this.log = opts.logger.child({ component: 'runner' });
    this.bus = opts.bus ?? createBus(opts.config, opts.logger);
  }

  private failed = false;

  /** Bus connected, every service started and ready, none failed. */
  isReady(): boolean {
    return this.running && !this.failed && this.bus.isReady() && this.started.every((s) => s.ready?.() ?? true);
  }

  /** Opened once and shared; an open that failed (its retry budget spent) is tried again by the next caller. */
  private stores(): Promise<Stores> {
    if (!this.storesPromise) {
      const p = this.opts.openStores
        ? this.opts.openStores()
        : import('../stores/index.ts').then(({ openStores }) => openStores(storesConfigOf(this.opts.config), this.opts.logger));
      this.storesPromise = p;
      p.catch(() => {
        if (this.storesPromise === p) this.storesPromise = null;
      });
    }
    return this.storesPromise;
  }

  /** Start the bus, then the services in order; if one fails, stop those started and rethrow. */
  async start(services: readonly Service[]): Promise<void> {
    await this.bus.start();
    for (const s of services) {
      const logger = this.opts.logger.child({ service: s.name });
      const ctx: ServiceContext = {
        config: this.opts.config,
        logger,
        bus: this.bus,
        stores: () => this.stores(),
        signal: this.abort.signal,
        fail: (err) => {
          this.failed = true;
          this.log.error({ err, service: s.name }, 'service cannot go on: not ready, shutting down');
          this.opts.onServiceFailure?.(s.name, err);
        },
      };
      try {
        await s.start(ctx);
      } catch (err) {
        this.log.error({ err, service: s.name }, 'service failed to start');
        await this.stop().catch((e: unknown) => this.log.error({ err: e }, 'stop after failed start failed'));
        throw err;
      }
      this.started.push(s);
      serviceUp().set({ service: s.name }, 1);
      this.log.info({ service: s.name }, 'service started');
    }
    this.running = true;
  }

  /** Graceful stop (idempotent): see the order at the top of this file. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    const errors: unknown[] = [];
    for (const s of this.started) {
      try {
        await s.stop();
        serviceUp().set({ service: s.name }, 0);
        this.log.info({ service: s.name }, 'service stopped');
      } catch (err) {
        errors.push(err);
        this.log.error({ err, service: s.name }, 'service failed to stop cleanly');
      }
      if (this.bus.kind === 'memory') await this.drainBounded();
    }
    this.started.length = 0;
    try {
      await this.bus.close();
    } catch (err) {
      errors.push(err);
      this.log.error({ err }, 'bus close failed');
    }
    if (this.storesPromise) {
      try {
        await (await this.storesPromise).close();
      } catch (err) {
        errors.push(err);
        this.log.error({ err }, 'stores close failed');
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `${errors.length} error(s) while stopping`);
  }

  private async drainBounded(): Promise<void> {
    const ms = this.opts.drainTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.bus.drain().then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), ms);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) this.log.warn({ timeout_ms: ms }, 'in-process bus did not drain in time');
  }
}

export interface RunningProcess {
  runner: Runner;
  ops: OpsServer;
  /** Stop the services and the ops endpoint (what SIGTERM does, without exiting). */
  shutdown(): Promise<void>;
}

/**
 * A whole process: ops endpoint, runner, signal handlers. On SIGTERM/SIGINT it
 * shuts down gracefully and exits 0 (1 if that failed or timed out).
 */
export async function runProcess(
  services: readonly Service[],
  opts: RunnerOptions & { installSignalHandlers?: boolean },
): Promise<RunningProcess> {
  const { config, logger } = opts;
  enableProcessMetrics();
  logger.info({ config: redactConfig(config), services: services.map((s) => s.name) }, 'starting');
  let fatal: ((service: string, err: unknown) => void) | null = null;
  const runner = new Runner({ ...opts, onServiceFailure: (service, err) => fatal?.(service, err) });
  const ops = await startOpsServer({
    host: config.httpHost,
    port: config.httpPort,
    logger,
    readiness: { bus: () => runner.bus.isReady(), services: () => runner.isReady() },
  });
  let done: Promise<void> | null = null;
  const shutdown = () => {
    done ??= (async () => {
      try {
        await runner.stop();
      } finally {
        await ops.close();
      }
    })();
    return done;
  };
  const removeHandlers = opts.installSignalHandlers === false ? () => {} : onShutdownSignals(shutdown, { logger, timeoutMs: config.shutdownTimeoutMs });
  // A service that cannot go on: shut down (bounded) and exit non-zero, so the orchestrator restarts the process.
  fatal = (service) => {
    if (opts.installSignalHandlers === false) return;
    const timer = setTimeout(() => process.exit(1), config.shutdownTimeoutMs);
    timer.unref();
    void shutdown()
      .catch((err: unknown) => logger.error({ err }, 'shutdown after a service failure failed'))
      .finally(() => {
        logger.error({ service }, 'exiting with status 1: a service could not go on');
        logger.flush(() => process.exit(1));
      });
  };
  try {
    await runner.start(services);
  } catch (err) {
    removeHandlers();
    await ops.close();
    throw err;
  }
  logger.info({ services: services.map((s) => s.name), ops: ops.url, bus: runner.bus.kind }, 'ready');
  return { runner, ops, shutdown };
}
