import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binanceStreamSymbol, krakenRestPair, normalizeBinanceSymbol, normalizeKrakenPair } from '../../src/sources/pairs.ts';

test('Kraken pair names to ours', () => {
  const cases: [string, string | null][] = [
    ['BTC/USD', 'BTC/USD'], ['XBT/USD', 'BTC/USD'], ['XBTUSD', 'BTC/USD'], ['XXBTZUSD', 'BTC/USD'], ['XETHZUSD', 'ETH/USD'],
    ['ETHUSD', 'ETH/USD'], ['XBTUSDT', 'BTC/USDT'], ['XETHXXBT', 'ETH/BTC'], ['XDG/USD', 'DOGE/USD'], ['SC/EUR', 'SC/EUR'], ['xmr/usd', 'XMR/USD'], ['FOO', null],
  ];
  for (const [k, want] of cases) assert.equal(normalizeKrakenPair(k), want, k);
  assert.equal(krakenRestPair('BTC/USD'), 'XBTUSD');
  assert.equal(krakenRestPair('ETH/USD'), 'ETHUSD');
});

test('Binance symbols to ours', () => {
  assert.equal(normalizeBinanceSymbol('BTCUSDT'), 'BTC/USDT');
  assert.equal(normalizeBinanceSymbol('ethusdt'), 'ETH/USDT');
  assert.equal(normalizeBinanceSymbol('ETHBTC'), 'ETH/BTC');
  assert.equal(normalizeBinanceSymbol('BTCFDUSD'), 'BTC/FDUSD');
  assert.equal(normalizeBinanceSymbol('XYZ'), null);
  assert.equal(binanceStreamSymbol('BTC/USDT'), 'btcusdt');
});
