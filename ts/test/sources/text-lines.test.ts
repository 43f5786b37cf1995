/**
 * textLines (the trade CSV reader's line splitter) gives the lines Node's
 * readline gives (crlfDelay Infinity, as the reader used before), whatever
 * the chunking: \r\n split across chunks, lone \r, empty lines, a UTF-8
 * character split across chunks, a BOM, no final newline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { textLines } from '../../src/sources/trade-csv.ts';
import { mulberry32 } from '../fixtures/rng.ts';

async function viaReadline(bytes: Buffer, cuts: number[]): Promise<string[]> {
  const out: string[] = [];
  for await (const l of createInterface({ input: Readable.from(chunks(bytes, cuts)), crlfDelay: Infinity })) out.push(l);
  return out;
}

async function viaTextLines(bytes: Buffer, cuts: number[]): Promise<string[]> {
  const out: string[] = [];
  for await (const ls of textLines(Readable.from(chunks(bytes, cuts)))) out.push(...ls);
  return out;
}

function chunks(bytes: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    if (c > at) out.push(bytes.subarray(at, c));
    at = Math.max(at, c);
  }
  return out;
}

test('textLines splits as readline does, for any chunking', async () => {
  const texts = [
    '\uFEFFa,b,c\r\n1,2,3\r\n4,5,6\r\n',
    'x\ny\n\nz',
    'x\ry\r\rz\r',
    'é€,1\r\n€,2\n\r\n\n',
    'only one line',
    '\r\n\r\nlast\r\n',
    'a\r\r\nb\n\rc',
  ];
  const rand = mulberry32(21);
  for (const t of texts) {
    const bytes = Buffer.from(t, 'utf8');
    const cutsList: number[][] = [[], ...Array.from({ length: bytes.length }, (_, i) => [i])];
    for (let k = 0; k < 50; k++) cutsList.push(Array.from({ length: 1 + Math.floor(rand() * 4) }, () => Math.floor(rand() * bytes.length)).sort((a, b) => a - b));
    for (const cuts of cutsList) {
      assert.deepEqual(await viaTextLines(bytes, cuts), await viaReadline(bytes, cuts), `${JSON.stringify(t)} cut at ${cuts.join(',')}`);
    }
  }
});
