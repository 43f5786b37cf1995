/**
 * The Helm chart covers exactly the configuration's variables, in both
 * directions, derived from the one config schema (so a variable added to
 * ts/src/config/config.ts fails here until the chart can set it):
 *  - every variable the chart sets (its ConfigMap, the env of every
 *    container, the names values.schema.json accepts in config.extraEnv) is a
 *    config variable: no typo, nothing stale;
 *  - every config variable can be set through the chart: from a named value
 *    (ConfigMap or env), from the Secret (the secret ones), or through
 *    config.extraEnv (the others);
 *  - config.extraEnv accepts no variable the chart already sets and no secret,
 *    and its list of refused secrets is exactly the config's secret variables.
 * Renders with every feature turned on (both Elasticsearch auth types).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_VARIABLES } from '../../src/config/config.ts';
import { CHART, render, type K8sObject } from '../deploy/helm.ts';

const PROD = ['-f', join(CHART, 'ci/production-values.yaml')];
const EVERYTHING = [
  ...PROD,
  '--set', 'kafka.topicPrefix=t-',
  '--set', 'alerts.discord=true',
  '--set', 'api.cursorSecret=true',
  '--set', 'config.extraEnv=null',
];

type Env = { name: string };
function containers(o: K8sObject): { env?: Env[] }[] {
  const pod = o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template?.spec : o.spec?.template?.spec;
  return pod ? [...(pod.initContainers ?? []), ...(pod.containers ?? [])] : [];
}

/** TICKCAST_ variables the chart sets from its values: ConfigMap keys and container env names. */
function setByChart(objects: K8sObject[]): Set<string> {
  const out = new Set<string>();
  for (const o of objects) {
    if (o.kind === 'ConfigMap') for (const k of Object.keys(o.data ?? {})) if (k.startsWith('TICKCAST_')) out.add(k);
    for (const c of containers(o)) for (const e of c.env ?? []) if (e.name.startsWith('TICKCAST_')) out.add(e.name);
  }
  return out;
}

const sorted = (xs: Iterable<string>) => [...xs].sort();

test('the Helm chart and its values schema cover exactly the config schema\'s variables', () => {
  const all = new Set(CONFIG_VARIABLES.map((v) => v.env));
  const secrets = new Set(CONFIG_VARIABLES.filter((v) => v.secret).map((v) => v.env));

  const chart = new Set([
    ...setByChart(render([...EVERYTHING, '--set', 'elasticsearch.auth.type=basic'])),
    ...setByChart(render([...EVERYTHING, '--set', 'elasticsearch.auth.type=apiKey', '--set', 'elasticsearch.auth.existingSecret=es-key'])),
  ]);
  const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
  const names = schema.properties.config.properties.extraEnv.propertyNames as { enum?: string[]; pattern?: string; not?: { enum?: string[] } };
  assert.ok(Array.isArray(names.enum), 'config.extraEnv names are an explicit list (a pattern would accept typos)');
  const extra = new Set(names.enum);
  const refused = new Set(names.not?.enum ?? []);

  // Chart → config: nothing the chart sets or accepts is unknown to the config.
  assert.deepEqual(sorted([...chart].filter((v) => !all.has(v))), [], 'variables the chart sets that the config does not know');
  assert.deepEqual(sorted([...extra].filter((v) => !all.has(v))), [], 'config.extraEnv names that the config does not know');
  assert.deepEqual(sorted([...refused].filter((v) => !all.has(v))), [], 'refused secret names that the config does not know');

  // Config → chart: every variable can be set.
  const missing = [...all].filter((v) => !chart.has(v) && !extra.has(v));
  assert.deepEqual(
    sorted(missing),
    [],
    'config variables the chart cannot set: add them to config.extraEnv\'s names in values.schema.json (secrets: wire them from secrets.existingSecret in _helpers.tpl)',
  );
  for (const s of secrets) assert.ok(chart.has(s), `${s} is a secret: the chart must read it from a Secret`);

  // extraEnv: only what nothing else sets, never a secret; the refused list is exactly the secrets.
  assert.deepEqual(sorted([...extra].filter((v) => chart.has(v))), [], 'config.extraEnv names that the chart already sets from a value');
  assert.deepEqual(sorted([...extra].filter((v) => secrets.has(v))), [], 'secrets accepted in config.extraEnv');
  assert.deepEqual(sorted(refused), sorted(secrets), 'config.extraEnv refuses exactly the secret variables');
});

test('the secret variables the chart wires come from a Secret, never from a value in clear', () => {
  const secrets = new Set(CONFIG_VARIABLES.filter((v) => v.secret).map((v) => v.env));
  for (const auth of [['--set', 'elasticsearch.auth.type=basic'], ['--set', 'elasticsearch.auth.type=apiKey', '--set', 'elasticsearch.auth.existingSecret=es-key']]) {
    for (const o of render([...EVERYTHING, ...auth])) {
      if (o.kind === 'ConfigMap') for (const k of Object.keys(o.data ?? {})) assert.ok(!secrets.has(k), `${k} in the ConfigMap`);
      for (const c of containers(o)) {
        for (const e of (c.env ?? []) as { name: string; value?: string; valueFrom?: { secretKeyRef?: unknown } }[]) {
          if (secrets.has(e.name)) assert.ok(e.valueFrom?.secretKeyRef && e.value === undefined, `${o.kind}/${o.metadata.name}: ${e.name} not from a Secret`);
        }
      }
    }
  }
});
