/** The Kraken v2 frame parser on the documented message shapes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKrakenV2Frame } from '../../src/sources/kraken-ws-frames.ts';
import { rfc3339ToUs } from '../../src/sources/trade-check.ts';

const CHECK = { nowMs: Date.parse('2023-09-25T08:00:00Z'), maxFutureMs: 300_000 };

test('RFC 3339 timestamps keep microseconds', () => {
  assert.equal(rfc3339ToUs('2022-12-25T09:30:59.123456Z'), Date.parse('2022-12-25T09:30:59Z') * 1000 + 123456);
  assert.equal(rfc3339ToUs('2022-12-25T09:30:59Z'), Date.parse('2022-12-25T09:30:59Z') * 1000);
  assert.equal(rfc3339ToUs('2022-12-25T10:30:59.5+01:00'), Date.parse('2022-12-25T09:30:59Z') * 1000 + 500000);
  assert.equal(rfc3339ToUs('2022-12-25 nonsense'), null);
});

test('trade update, ack, heartbeat, status', () => {
  const frame = { channel: 'trade', type: 'update', data: [{ symbol: 'MATIC/USD', side: 'buy', price: 0.5147, qty: 6423.46326, ord_type: 'limit', trade_id: 4665846, timestamp: '2023-09-25T07:48:36.925533Z' }] };
  const e = parseKrakenV2Frame(JSON.stringify(frame), CHECK);
  assert.equal(e.kind, 'trades');
  if (e.kind !== 'trades') return;
  assert.deepEqual(e.trades, [{ trade: { exchange: 'kraken', pair: 'MATIC/USD', trade_id: '4665846', price: 0.5147, qty: 6423.46326, side: 'buy', ts_ms: Date.parse('2023-09-25T07:48:36.925Z') }, seq: 4665846, tsUs: Date.parse('2023-09-25T07:48:36Z') * 1000 + 925533 }]);
  const ack = parseKrakenV2Frame(JSON.stringify({ method: 'subscribe', result: { channel: 'trade', snapshot: true, symbol: 'MATIC/USD' }, success: true, time_in: '2023-09-25T09:04:31.742599Z', time_out: '2023-09-25T09:04:31.742648Z' }), CHECK);
  assert.deepEqual(ack, { kind: 'ack', method: 'subscribe', success: true, channel: 'trade', symbol: 'MATIC/USD', timeInUs: Date.parse('2023-09-25T09:04:31Z') * 1000 + 742599 });
  const fail = parseKrakenV2Frame(JSON.stringify({ error: 'Currency pair not supported DOGE/FOO', method: 'subscribe', success: false, symbol: 'DOGE/FOO', time_in: '2023-09-25T09:04:31.742599Z', time_out: '2023-09-25T09:04:31.742648Z' }), CHECK);
  assert.equal(fail.kind === 'ack' && !fail.success && fail.symbol === 'DOGE/FOO' && fail.error, 'Currency pair not supported DOGE/FOO');
  assert.deepEqual(parseKrakenV2Frame('{"channel":"heartbeat"}', CHECK), { kind: 'heartbeat' });
  assert.deepEqual(parseKrakenV2Frame('{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":1,"system":"online","version":"2.0.0"}]}', CHECK), { kind: 'status', system: 'online' });
  const mixed = parseKrakenV2Frame(JSON.stringify({ channel: 'trade', type: 'snapshot', data: [frame.data[0], { ...frame.data[0], trade_id: 4665847, price: '-1' }] }), CHECK);
  assert.ok(mixed.kind === 'trades' && mixed.snapshot && mixed.trades.length === 1 && mixed.rejects[0]!.kind === 'bad_price');
});
