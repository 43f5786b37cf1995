/**
 * The image recipe, checked without a container engine: hadolint clean, and
 * the properties the chart relies on (non-root numeric user, the tickcast
 * entry point, every workspace addon shipped, a context without local builds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../fixtures/paths.ts';
import { HADOLINT, requireTools, run } from './helm.ts';

const dockerfile = readFileSync(resolve(REPO_ROOT, 'Dockerfile'), 'utf8');
/** The instructions of the last stage (the image that runs). */
const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

test('hadolint finds nothing in the Dockerfile', () => {
  requireTools();
  const r = run(HADOLINT, ['--no-color', 'Dockerfile']);
  assert.equal(r.status, 0, `hadolint:\n${r.stdout}${r.stderr}`);
});

test('hadolint does flag a bad Dockerfile (the check can fail)', () => {
  requireTools();
  const r = run(HADOLINT, ['--no-color', '-'], 'FROM node:latest\nRUN apt-get install curl\n');
  assert.notEqual(r.status, 0);
  assert.match(r.stdout, /DL3007/, 'latest tag');
  assert.match(r.stdout, /DL3008|DL3015/, 'unpinned apt');
});

test('the runtime stage runs as a numeric non-root user the pod security context matches', () => {
  const users = [...runtime.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
  assert.equal(users.length, 1, `one USER in the runtime stage, got ${users.join(', ')}`);
  const [uid, gid] = (users[0] as string).split(':').map(Number);
  assert.ok(uid !== undefined && Number.isInteger(uid) && uid > 0, `numeric non-root uid, got ${users[0]}`);
  const values = readFileSync(resolve(REPO_ROOT, 'charts/tickcast/values.yaml'), 'utf8');
  assert.match(values, new RegExp(`runAsUser: ${uid}\\b`));
  assert.match(values, new RegExp(`runAsGroup: ${gid}\\b`));
});

test('the entry point is the tickcast CLI and the runtime base is Node 20 slim', () => {
  assert.match(runtime, /^ENTRYPOINT \["node", "bin\/tickcast\.js"\]$/m);
  assert.match(runtime, /^FROM node:\$\{NODE_VERSION\}-\$\{DEBIAN_RELEASE\}-slim AS runtime$/m);
  const nodeVersion = /^ARG NODE_VERSION=(\d+)\./m.exec(dockerfile)?.[1];
  assert.equal(nodeVersion, '20');
});

test('every npm workspace (each napi addon) is staged into the image from package.json, not a fixed list', () => {
  assert.match(dockerfile, /require\('\.\/package\.json'\)\.workspaces/);
  const pkg = JSON.parse(readFileSync(resolve(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  assert.ok(pkg.workspaces.length >= 2);
});

test('the build context leaves out local builds and state', () => {
  const ignored = readFileSync(resolve(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  for (const p of ['**/node_modules', '**/target', '**/*.node', '.git', '.venv']) assert.ok(ignored.includes(p), `.dockerignore lacks ${p}`);
});
