// Shared helpers for the indicators tests: locating the Python TA-Lib oracle
// and the real candle files. Not a test file itself.
import { testData } from '../fixtures/test-data.ts';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const VENV_PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');
/** A real candle file by name (committed or fetched, see ts/test/fixtures/test-data.ts). */
export const candleFile = (file: string): string => testData(`candles/${file}`);

/** Real 1-minute candle files used for parity (see the data README). */
export const PARITY_FILES = [
  'coinbase_BTCUSD_1m_lean.csv',
  'ftx_BTC-PERP_1m_20211231-20220103.csv', // the first 3 days of the 31-day FTX file (data/test/README.md)
  'kraken_XBTUSDT_1m_20251110.csv',
] as const;

export interface OracleOutput {
  talib_version: string;
  talib_c_version: string;
  rows: number;
  columns: { open: number[]; high: number[]; low: number[]; close: number[]; volume: number[] };
  series: Record<string, (number | null)[]>;
  scale: Record<string, number>;
}

/** Throws with the fix when the Python venv with TA-Lib is missing. */
export function requireVenv(): void {
  if (!existsSync(VENV_PYTHON)) {
    throw new Error(`TA-Lib oracle missing: ${VENV_PYTHON} not found; run \`make pyenv\` (python venv + tests/oracles/requirements.txt)`);
  }
}

/** Runs tests/oracles/talib_reference.py on one candle file. */
export function talibReference(csvPath: string): OracleOutput {
  requireVenv();
  if (!existsSync(csvPath)) throw new Error(`candle file missing: ${csvPath}`);
  const out = join(mkdtempSync(join(tmpdir(), 'tickcast-talib-')), 'reference.json');
  execFileSync(VENV_PYTHON, [join(REPO_ROOT, 'tests', 'oracles', 'talib_reference.py'), csvPath, out], { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(out, 'utf8')) as OracleOutput;
}
