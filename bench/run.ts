/**
 * `make bench`: runs every benchmark program in bench/ (ours against peers,
 * measured in the same run) and prints their tables with ratios.
 * Run one alone with `node --import tsx bench/<name>.ts`.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const names = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.replace(/\.ts$/, ''))
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();

let failed = 0;
for (const name of names) {
  console.log(`\n=== bench/${name}.ts ===`);
  try {
    const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as { run?: () => Promise<void> };
    if (typeof mod.run !== 'function') throw new Error('exports no run()');
    await mod.run();
  } catch (e) {
    failed++;
    console.error(`bench/${name}.ts failed: ${(e as Error).stack ?? e}`);
  }
}
if (failed > 0) process.exitCode = 1;
