/**
 * Which coins a headline is about. Names match case-insensitively as whole
 * words; tickers match only as written in upper case (optionally `$`-prefixed
 * or in a pair like BTC-USD), so "sol" or "link" in running text do not count.
 */

export interface CoinSpec {
  ticker: string;
  /** Lower-case names and spellings, whole-word matched. */
  names: string[];
  /** Upper-case ticker spellings, matched case-sensitively. */
  tickers: string[];
}

export const DEFAULT_COINS: readonly CoinSpec[] = [
  { ticker: 'BTC', names: ['bitcoin', 'bitcoins', "bitcoin's"], tickers: ['BTC', 'XBT', 'WBTC'] },
  { ticker: 'ETH', names: ['ethereum', "ethereum's", 'ether', "ether's"], tickers: ['ETH', 'WETH'] },
  { ticker: 'SOL', names: ['solana', "solana's"], tickers: ['SOL'] },
  { ticker: 'XRP', names: ['xrp', 'ripple', "ripple's"], tickers: ['XRP'] },
  { ticker: 'DOGE', names: ['dogecoin', 'doge'], tickers: ['DOGE'] },
  { ticker: 'ADA', names: ['cardano', "cardano's"], tickers: ['ADA'] },
  { ticker: 'BNB', names: ['bnb', 'binance coin'], tickers: ['BNB'] },
  { ticker: 'LTC', names: ['litecoin'], tickers: ['LTC'] },
  { ticker: 'DOT', names: ['polkadot'], tickers: ['DOT'] },
  { ticker: 'AVAX', names: ['avalanche'], tickers: ['AVAX'] },
  { ticker: 'LINK', names: ['chainlink'], tickers: ['LINK'] },
  { ticker: 'TRX', names: ['tron'], tickers: ['TRX'] },
  { ticker: 'TON', names: ['toncoin'], tickers: ['TON'] },
  { ticker: 'SHIB', names: ['shiba inu'], tickers: ['SHIB'] },
];

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface CompiledCoin {
  ticker: string;
  name: RegExp;
  symbol: RegExp;
}

function compile(coins: readonly CoinSpec[]): CompiledCoin[] {
  return coins.map((c) => ({
    ticker: c.ticker,
    name: new RegExp(`(?<![\\w$])(?:${c.names.map(esc).join('|')})(?![\\w])`, 'i'),
    symbol: new RegExp(`(?<![A-Za-z0-9])\\$?(?:${c.tickers.map(esc).join('|')})(?![A-Za-z0-9])`),
  }));
}

const cache = new WeakMap<readonly CoinSpec[], CompiledCoin[]>();

/** Tickers mentioned in the text, in the order of the coin table (no duplicates). */
export function detectCoins(text: string, coins: readonly CoinSpec[] = DEFAULT_COINS): string[] {
  let c = cache.get(coins);
  if (!c) {
    c = compile(coins);
    cache.set(coins, c);
  }
  return c.filter((k) => k.name.test(text) || k.symbol.test(text)).map((k) => k.ticker);
}
