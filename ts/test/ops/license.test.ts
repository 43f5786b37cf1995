/**
 * The project's license, said once and agreeing everywhere: LICENSE at the top is the
 * Apache License 2.0 text; the root package.json and every npm workspace package say
 * "Apache-2.0", every Cargo.toml of the workspace says it (directly or through
 * [workspace.package]), and each npm package's README names it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../fixtures/paths.ts';

const SPDX = 'Apache-2.0';
const read = (rel: string) => readFileSync(join(REPO_ROOT, rel), 'utf8');

/** A TOML table's body: the lines after `[name]` up to the next table header. */
function tomlTable(text: string, name: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `[${name}]`);
  if (start < 0) return '';
  const end = lines.findIndex((l, i) => i > start && /^\s*\[/.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

test('LICENSE is the Apache License 2.0, complete', () => {
  const text = read('LICENSE');
  assert.match(text, /^\s*Apache License\s+Version 2\.0, January 2004\s+http:\/\/www\.apache\.org\/licenses\//);
  assert.match(text, /TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/);
  assert.match(text, /END OF TERMS AND CONDITIONS/);
  assert.match(text, /APPENDIX: How to apply the Apache License to your work\./);
  assert.match(text, /limitations under the License\.\s*$/);
  assert.ok(text.length > 11_000, 'the full text');
});

test('every package.json (root and workspaces) says Apache-2.0, and each npm package README names it', () => {
  const root = JSON.parse(read('package.json')) as { license?: string; workspaces: string[] };
  assert.equal(root.license, SPDX, 'package.json');
  assert.ok(root.workspaces.length >= 4);
  for (const ws of root.workspaces) {
    const pkg = JSON.parse(read(`${ws}/package.json`)) as { name: string; license?: string; private?: boolean };
    assert.equal(pkg.license, SPDX, `${ws}/package.json`);
    assert.ok(existsSync(join(REPO_ROOT, ws, 'README.md')), `${pkg.name} has a README`);
    assert.match(read(`${ws}/README.md`), /^## License\n\nApache-2\.0 \(see \[LICENSE\]\(\.\.\/\.\.\/\.\.\/LICENSE\)/m, `${ws}/README.md says the license`);
    assert.ok(existsSync(join(REPO_ROOT, ws, '../../../LICENSE')), `${ws}: the README's link resolves`);
  }
});

test('every Cargo.toml of the workspace says Apache-2.0', () => {
  const rootToml = read('Cargo.toml');
  assert.match(tomlTable(rootToml, 'workspace.package'), /^license = "Apache-2\.0"$/m, '[workspace.package] license');
  const members = [...(/members\s*=\s*\[([^\]]*)\]/.exec(tomlTable(rootToml, 'workspace'))?.[1] ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(members.length >= 9, `workspace members: ${members.join(', ')}`);
  for (const m of members) {
    const pkg = tomlTable(read(`${m}/Cargo.toml`), 'package');
    const own = /^license\s*=\s*"([^"]*)"$/m.exec(pkg)?.[1];
    const inherits = /^license\.workspace\s*=\s*true$/m.test(pkg);
    assert.ok(own === SPDX || (own === undefined && inherits), `${m}/Cargo.toml: license = "${SPDX}" or license.workspace = true (got ${own ?? 'none'})`);
  }
});
