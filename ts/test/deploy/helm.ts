/**
 * The deployment tools for the chart tests: helm and a YAML → JSON converter
 * (PyYAML from the kubernetes-validate venv), both installed by
 * scripts/deploy/ensure-tools.sh into ${TICKCAST_CACHE:-~/.cache/tickcast}.
 * A missing tool fails the test with the command that installs it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { REPO_ROOT } from '../fixtures/paths.ts';

export const CHART = resolve(REPO_ROOT, 'charts/tickcast');
export const KUBE_VERSION = process.env.TICKCAST_KUBE_VERSION ?? '1.34.0';
const CACHE = process.env.TICKCAST_CACHE ?? resolve(homedir(), '.cache/tickcast');
const BIN = resolve(CACHE, 'bin');
const INSTALL = 'install it with: bash scripts/deploy/ensure-tools.sh (or make deploy-tools)';

export const HELM = process.env.TICKCAST_HELM ?? resolve(BIN, 'helm');
export const KUBERNETES_VALIDATE = resolve(BIN, 'kubernetes-validate');
export const HADOLINT = resolve(BIN, 'hadolint');
const PYTHON = resolve(CACHE, 'deploy-venv/bin/python');

/** Throws (fails the test) when a tool is missing, saying how to install it. */
export function requireTools(): void {
  for (const [what, path] of [
    ['helm', HELM],
    ['kubernetes-validate', KUBERNETES_VALIDATE],
    ['hadolint', HADOLINT],
    ['python with PyYAML (deploy venv)', PYTHON],
  ] as const) {
    if (!existsSync(path)) throw new Error(`${what} not found at ${path}: ${INSTALL}`);
  }
}

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], input?: string): Run {
  const r = spawnSync(cmd, args, { cwd: REPO_ROOT, encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} could not start (${r.error.message}): ${INSTALL}`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A rendered Kubernetes object, loosely typed: tests walk it by path. */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> }; spec?: any; data?: Record<string, string> };

/** `helm template` with extra args; returns the helm result (does not throw on failure). */
export function template(args: readonly string[] = []): Run {
  requireTools();
  return run(HELM, ['template', 'tickcast', CHART, '--namespace', 'tickcast', '--kube-version', KUBE_VERSION, ...args]);
}

/** Render and parse; fails with helm's message when the render fails. */
export function render(args: readonly string[] = []): K8sObject[] {
  const r = template(args);
  if (r.status !== 0) throw new Error(`helm template ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  const parsed = run(PYTHON, ['-c', 'import sys, json, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))'], r.stdout);
  if (parsed.status !== 0) throw new Error(`cannot parse helm's output as YAML: ${parsed.stderr}`);
  return JSON.parse(parsed.stdout) as K8sObject[];
}

export function ofKind(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function named(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} named ${name}; have: ${ofKind(objects, kind).map((x) => x.metadata.name).join(', ') || 'none'}`);
  return o;
}
