/** Real recorded trades (Binance spot, hftbacktest recording) as Trade messages, for bus tests. */
import { testData } from '../fixtures/test-data.ts';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { isHeartbeat, isTradeBatch, type Trade, type TradeEvent } from '../../src/contracts/messages.ts';

const FILES: Record<string, string> = {
  'BTC/USDT': testData('trades/binance_spot_BTCUSDT_trades_20240808T2354-20240809T0005.csv'),
  'ETH/USDT': testData('trades/binance_spot_ETHUSDT_trades_20240808T2354-20240809T0005.csv'),
};

/** The first `n` trades of a pair's recording, in recorded order. */
export function realTrades(pair: 'BTC/USDT' | 'ETH/USDT', n: number): Trade[] {
  const file = FILES[pair];
  if (!file) throw new Error(`no recording for ${pair}`);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const header = (lines[0] ?? '').split(',');
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`column ${name} missing in ${file}`);
    return i;
  };
  const [iT, iId, iP, iQ, iM] = [col('trade_time_ms'), col('trade_id'), col('price'), col('qty'), col('is_buyer_maker')];
  return lines.slice(1, n + 1).map((line) => {
    const f = line.split(',');
    return {
      exchange: 'binance',
      pair,
      trade_id: f[iId] as string,
      price: Number(f[iP]),
      qty: Number(f[iQ]),
      side: f[iM] === 'true' ? 'sell' : 'buy', // buyer is maker = the taker sold
      ts_ms: Number(f[iT]),
    };
  });
}

/** Interleave two sequences by time (ties: a first), keeping each one's own order. */
export function mergeByTime(a: Trade[], b: Trade[]): Trade[] {
  const out: Trade[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x.ts_ms <= y.ts_ms)) {
      out.push(x as Trade);
      i++;
    } else {
      out.push(y);
      j++;
    }
  }
  return out;
}

export const quietLogger = () => pino({ level: 'silent' });

/** Resolves when `cond()` holds, polling; rejects with `what` after `ms` (a guard against hangs, not a timing assertion). */
export async function waitFor(cond: () => boolean, what: string | (() => string), ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A message of the `trades` stream that must be a trade (these tests publish no heartbeat). */
export function tradeOf(m: TradeEvent): Trade {
  if (isHeartbeat(m)) throw new Error(`expected a trade, got a heartbeat of ${m.pair} at ${m.ts_ms}`);
  if (isTradeBatch(m)) throw new Error(`expected a trade, got a batch of ${m.trade_id.length} trades of ${m.pair}`);
  return m;
}
