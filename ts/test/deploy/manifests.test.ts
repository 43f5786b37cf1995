/**
 * Offline validity of everything the chart renders: `helm lint --strict`, then
 * each rendered object against the Kubernetes JSON schemas of KUBE_VERSION
 * (kubernetes-validate --strict: unknown fields are errors), for the default
 * values, the production-like values and the in-cluster (Strimzi + ECK) example.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHART, HELM, KUBE_VERSION, KUBERNETES_VALIDATE, requireTools, run, template } from './helm.ts';

const VALUE_SETS: Record<string, string[]> = {
  defaults: [],
  production: ['-f', 'charts/tickcast/ci/production-values.yaml'],
  'in-cluster example': ['-f', 'charts/tickcast/examples/in-cluster-values.yaml'],
};

test('the deployment tools are installed (helm, kubernetes-validate)', () => {
  requireTools();
});

for (const [name, args] of Object.entries(VALUE_SETS)) {
  test(`${name}: helm lint --strict passes`, () => {
    requireTools();
    const r = run(HELM, ['lint', '--strict', '--kube-version', KUBE_VERSION, CHART, ...args]);
    assert.equal(r.status, 0, `helm lint --strict failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test(`${name}: every rendered object is valid for Kubernetes ${KUBE_VERSION}`, () => {
    const r = template(args);
    assert.equal(r.status, 0, r.stderr);
    const objects = r.stdout.split(/^---$/m).filter((d) => /^kind:/m.test(d)).length;
    assert.ok(objects >= 15, `expected the whole chart, rendered ${objects} objects`);
    const dir = mkdtempSync(join(tmpdir(), 'tickcast-manifests-'));
    try {
      const file = join(dir, 'rendered.yaml');
      writeFileSync(file, r.stdout);
      const v = run(KUBERNETES_VALIDATE, ['-k', KUBE_VERSION, '--strict', file]);
      assert.equal(v.status, 0, `kubernetes-validate failed:\n${v.stdout}\n${v.stderr}`);
      const passed = v.stdout.split('\n').filter((l) => l.startsWith('INFO') && l.includes('passed')).length;
      assert.equal(passed, objects, `every object validated (${passed} of ${objects}):\n${v.stdout}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('kubernetes-validate does reject an invalid object (the check can fail)', () => {
  requireTools();
  const dir = mkdtempSync(join(tmpdir(), 'tickcast-manifests-'));
  try {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      ['apiVersion: policy/v1', 'kind: PodDisruptionBudget', 'metadata: {name: x}', 'spec:', '  minAvailable: 1', '  selector: {matchLabels: {a: b}}', '  unknownField: true', ''].join('\n'),
    );
    const v = run(KUBERNETES_VALIDATE, ['-k', KUBE_VERSION, '--strict', file]);
    assert.notEqual(v.status, 0, v.stdout);
    assert.match(v.stdout + v.stderr, /unknownField/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
