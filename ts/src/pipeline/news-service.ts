/**
 * The news service: RSS/Atom feeds (and CryptoPanic with a token) -> `news`.
 * Without network (the embedded default offline) it says so in one line and
 * replays the bundled real CryptoPanic headline sample, in the present: shifted
 * so that its first headline is published when the service starts (as the
 * trade replay starts now), relative spacing kept.
 */
import type { Service } from '../services/runner.ts';
import type { NewsSource } from '../news/news-source.ts';
import { newsSourceFromConfig } from '../news/news-sources.ts';

export interface NewsServiceOptions {
  dataDir: string;
  cryptopanicToken?: string;
  /** Force network on/off; default: probe CoinDesk's feed host. */
  network?: boolean;
  replaySpeed?: 'max' | number;
  probeTimeoutMs?: number;
  /** Wall clock: where the replayed sample starts (tests). Default Date.now. */
  clock?: () => number;
}

async function online(timeoutMs: number): Promise<{ ok: boolean; reason: string }> {
  try {
    await fetch('https://www.coindesk.com/arc/outboundfeeds/rss/', { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
    return { ok: true, reason: '' };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    return { ok: false, reason: err.cause?.code ?? err.cause?.message ?? err.message };
  }
}

export function newsService(opts: NewsServiceOptions): Service {
  let source: NewsSource | null = null;
  return {
    name: 'news',
    async start(ctx) {
      let network = opts.network;
      if (network === undefined) {
        const probe = await online(opts.probeTimeoutMs ?? 5000);
        network = probe.ok;
        if (!probe.ok) ctx.logger.warn(`news feeds are not reachable (${probe.reason}): replaying the bundled real headline sample instead`);
      }
      source = newsSourceFromConfig({
        dataDir: opts.dataDir,
        network,
        logger: ctx.logger,
        ...(opts.cryptopanicToken ? { cryptopanicToken: opts.cryptopanicToken } : {}),
        replay: { speed: opts.replaySpeed ?? 60, startAtMs: (opts.clock ?? Date.now)() },
      });
      source.start(async (items) => {
        await ctx.bus.publish('news', items);
        ctx.logger.info({ count: items.length, first: items[0]?.title }, 'news published');
      });
    },
    async stop() {
      await source?.stop();
    },
  };
}
