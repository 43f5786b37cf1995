/**
 * Pair names: every source emits our form `BASE/QUOTE` with common asset codes
 * (BTC/USD, ETH/USD, BTC/USDT). Kraken's REST and v1 names use legacy codes (XBT, XDG)
 * and the 8-letter `X...Z...` form (XXBTZUSD); Binance concatenates (BTCUSDT).
 */

/** Kraken's own asset codes that differ from the common ones. */
const KRAKEN_ASSET_ALIASES: Record<string, string> = { XBT: 'BTC', XDG: 'DOGE' };
const KRAKEN_ASSET_TO_KRAKEN: Record<string, string> = { BTC: 'XBT', DOGE: 'XDG' };

/** Quote currencies, longest first so that USDT wins over USD. */
const KRAKEN_QUOTES = ['USDT', 'USDC', 'EUR', 'USD', 'GBP', 'JPY', 'CAD', 'CHF', 'AUD', 'XBT', 'BTC', 'ETH', 'DAI', 'DOT'];
const BINANCE_QUOTES = ['FDUSD', 'USDT', 'USDC', 'BUSD', 'TUSD', 'USDP', 'DAI', 'BTC', 'ETH', 'BNB', 'EUR', 'GBP', 'TRY', 'BRL', 'JPY', 'USD'];

const asset = (code: string): string => KRAKEN_ASSET_ALIASES[code] ?? code;

/**
 * Kraken pair name (v2 `BTC/USD`, v1 `XBT/USD`, REST `XBTUSD`, `XXBTZUSD`, `XETHZUSD`,
 * `XBTUSDT`) to ours. Returns null when it cannot be split.
 */
export function normalizeKrakenPair(name: string): string | null {
  const s = name.trim().toUpperCase();
  if (s.includes('/')) {
    const [b, q, ...rest] = s.split('/');
    if (!b || !q || rest.length) return null;
    return `${asset(b)}/${asset(q)}`;
  }
  // Legacy 8-letter form: X<3> + Z<3> (fiat quote) or X<3> + X<3> (crypto quote).
  const legacy = /^X([A-Z]{3})([XZ])([A-Z]{3})$/.exec(s);
  if (legacy) return `${asset(legacy[1]!)}/${asset(legacy[3]!)}`;
  for (const q of KRAKEN_QUOTES) {
    if (s.length > q.length + 1 && s.endsWith(q)) return `${asset(s.slice(0, -q.length))}/${asset(q)}`;
  }
  return null;
}

/** Our pair to the name Kraken's REST API accepts (`BTC/USD` -> `XBTUSD`). */
export function krakenRestPair(pair: string): string {
  const [b = '', q = ''] = pair.split('/');
  return `${KRAKEN_ASSET_TO_KRAKEN[b] ?? b}${KRAKEN_ASSET_TO_KRAKEN[q] ?? q}`;
}

/** Binance symbol (`BTCUSDT`, any case) to ours (`BTC/USDT`); null when no known quote matches. */
export function normalizeBinanceSymbol(symbol: string): string | null {
  const s = symbol.trim().toUpperCase();
  for (const q of BINANCE_QUOTES) {
    if (s.length > q.length + 1 && s.endsWith(q)) return `${s.slice(0, -q.length)}/${q}`;
  }
  return null;
}

/** Our pair to the Binance stream symbol (`BTC/USDT` -> `btcusdt`). */
export function binanceStreamSymbol(pair: string): string {
  return pair.replace('/', '').toLowerCase();
}
