/**
 * `make bench`: runs every benchmark program in bench/ (ours against peers,
 * measured in the same run) and prints their tables with ratios.
 * Run one alone with `node --import tsx bench/<name>.ts`.
 *
 * A benchmark program is a `<name>.ts` file of bench/ that exports `run()`:
 * not this runner, not a declaration file (`*.d.ts`), not a helper (`_*.ts`).
 *
 *   node --import tsx bench/run.ts [name...]          run all, or the named ones
 *   node --import tsx bench/run.ts --list [name...]   dry run: print the programs it would run, one per line
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The benchmark programs of a folder, sorted by name (without `.ts`). */
export function benchmarkPrograms(dir: string = here): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'run.ts' && !f.startsWith('_'))
    .map((f) => f.replace(/\.ts$/, ''))
    .sort();
}

async function main(argv: string[]): Promise<void> {
  const list = argv.includes('--list');
  const only = argv.filter((a) => a !== '--list');
  const all = benchmarkPrograms();
  const unknown = only.filter((n) => !all.includes(n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${all.join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const names = all.filter((n) => only.length === 0 || only.includes(n));
  if (list) {
    for (const name of names) console.log(`bench/${name}.ts`);
    return;
  }
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
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
