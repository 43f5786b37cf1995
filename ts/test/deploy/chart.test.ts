/**
 * The Helm chart's logic, checked by rendering it with helm (offline): what a
 * value turns on, what a missing secret or a wrong type refuses. Expected
 * objects come from DESIGN.md's list of services and the Kubernetes API, not
 * from a saved render.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { named, ofKind, render, requireTools, template, type K8sObject } from './helm.ts';

/** The services of DESIGN.md, each run as `tickcast run <service>`. */
const SERVICES = ['ingest', 'candles', 'features', 'news', 'sentiment', 'predictor', 'api', 'monitor'];
/** Stream processors: Kafka consumer groups keyed by pair. */
const STREAM_PROCESSORS = ['candles', 'features', 'sentiment', 'predictor', 'monitor'];
const SECRET_VARS = [
  'TICKCAST_ES_PASSWORD',
  'TICKCAST_ES_API_KEY',
  'TICKCAST_LLM_API_KEY',
  'TICKCAST_API_KEYS',
  'TICKCAST_CRYPTOPANIC_TOKEN',
  'TICKCAST_ALERT_SLACK_URL',
  'TICKCAST_ALERT_DISCORD_URL',
  'TICKCAST_ALERT_WEBHOOK_URL',
];
const PROD = ['-f', 'charts/tickcast/ci/production-values.yaml'];

type Container = { name: string; args: string[]; env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }[]; [k: string]: unknown };

function podSpec(o: K8sObject) {
  if (o.kind === 'CronJob') return o.spec.jobTemplate.spec.template.spec;
  return o.spec.template.spec;
}
function mainContainer(o: K8sObject): Container {
  const c = podSpec(o).containers as Container[];
  assert.equal(c.length, 1, `${o.kind}/${o.metadata.name} has one container`);
  return c[0] as Container;
}
function deployment(objects: K8sObject[], service: string): K8sObject {
  return named(objects, 'Deployment', `tickcast-${service}`);
}
function envOf(c: Container, name: string) {
  return c.env?.find((e) => e.name === name);
}
function failure(args: string[]): string {
  const r = template(args);
  assert.notEqual(r.status, 0, `helm template ${args.join(' ')} should fail but rendered`);
  return r.stderr;
}

test('the deployment tools are installed (helm, kubernetes-validate)', () => {
  requireTools();
});

describe('default values', () => {
  // Rendered once, on first use, so a failing render fails each test (no hook cancels them).
  let cached: K8sObject[] | undefined;
  const defaults = (): K8sObject[] => (cached ??= render());

  test('one Deployment per service, each running `tickcast run <service>`', () => {
    const deployments = ofKind(defaults(), 'Deployment');
    assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), SERVICES.map((s) => `tickcast-${s}`).sort());
    for (const s of SERVICES) {
      const c = mainContainer(deployment(defaults(), s));
      assert.deepEqual(c.args, ['run', s]);
    }
  });

  test('probes on /healthz and /readyz of the ops port, requests and limits, non-root read-only pods', () => {
    for (const s of SERVICES) {
      const d = deployment(defaults(), s);
      const spec = podSpec(d);
      const c = mainContainer(d) as Container & Record<string, any>;
      const opsPort = c.ports.find((p: { name: string }) => p.name === 'ops');
      assert.equal(opsPort?.containerPort, 8080, `${s}: ops port`);
      assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'ops' }, `${s}: liveness`);
      assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'ops' }, `${s}: readiness`);
      for (const k of ['cpu', 'memory']) assert.ok(c.resources.requests[k], `${s}: requests.${k}`);
      assert.ok(c.resources.limits.memory, `${s}: limits.memory`);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true, `${s}: read-only root`);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.equal(spec.securityContext.runAsNonRoot, true, `${s}: non-root`);
      assert.ok(
        c.volumeMounts.some((m: { mountPath: string }) => m.mountPath === '/tmp'),
        `${s}: writable /tmp for tsx's cache and the data dir`,
      );
    }
  });

  test('production configuration from one ConfigMap, Kafka and Elasticsearch settings', () => {
    const cm = named(defaults(), 'ConfigMap', 'tickcast');
    assert.equal(cm.data?.TICKCAST_MODE, 'production');
    assert.equal(cm.data?.TICKCAST_PAIRS, 'BTC/USD,ETH/USD');
    assert.equal(cm.data?.TICKCAST_KAFKA_BROKERS, 'kafka:9092');
    assert.equal(cm.data?.TICKCAST_ES_URL, 'http://elasticsearch:9200');
    for (const s of SERVICES) {
      const c = mainContainer(deployment(defaults(), s)) as Container & { envFrom: { configMapRef: { name: string } }[] };
      assert.deepEqual(c.envFrom, [{ configMapRef: { name: 'tickcast' } }], `${s} reads the ConfigMap`);
    }
  });

  test('optional features are off: no Ingress, no HPA; the API has a Service, a PDB and 2 replicas', () => {
    assert.equal(ofKind(defaults(), 'Ingress').length, 0);
    assert.equal(ofKind(defaults(), 'HorizontalPodAutoscaler').length, 0);
    const svc = named(defaults(), 'Service', 'tickcast-api');
    assert.deepEqual(svc.spec.selector['app.kubernetes.io/component'], 'api');
    const pdb = named(defaults(), 'PodDisruptionBudget', 'tickcast-api');
    assert.equal(pdb.spec.minAvailable, 1);
    assert.equal(deployment(defaults(), 'api').spec.replicas, 2);
  });

  test('no Secret is rendered and no secret variable has a value in clear', () => {
    assert.equal(ofKind(defaults(), 'Secret').length, 0);
    const all = JSON.stringify(defaults());
    for (const v of SECRET_VARS) assert.ok(!all.includes(`"${v}"`), `${v} appears though no feature needs it`);
  });

  test('the trainer: one CronJob per pair running `tickcast train --pair <pair>`, no on-demand Job', () => {
    const crons = ofKind(defaults(), 'CronJob');
    assert.deepEqual(
      crons.map((c) => mainContainer(c).args).sort(),
      [
        ['train', '--pair', 'BTC/USD'],
        ['train', '--pair', 'ETH/USD'],
      ],
    );
    for (const c of crons) assert.equal(c.spec.concurrencyPolicy, 'Forbid');
    assert.equal(ofKind(defaults(), 'Job').filter((j) => j.metadata.labels?.['app.kubernetes.io/component'] === 'trainer').length, 0);
  });

  test('the init hook creates topics then stores, with its configuration inline (it runs before the ConfigMap exists)', () => {
    const job = named(defaults(), 'Job', 'tickcast-init');
    assert.equal(job.metadata.annotations?.['helm.sh/hook'], 'pre-install,pre-upgrade');
    // Hook objects are not release objects: a succeeded Job kept would outlive
    // `helm uninstall` (seen on a real API server, scripts/deploy/kube/chart-e2e.sh).
    assert.deepEqual(job.metadata.annotations?.['helm.sh/hook-delete-policy']?.split(',').sort(), [
      'before-hook-creation',
      'hook-succeeded',
    ]);
    const spec = podSpec(job);
    const steps = [...(spec.initContainers ?? []), ...spec.containers] as Container[];
    assert.deepEqual(
      steps.map((c) => c.args),
      [
        ['topics', 'create'],
        ['stores', 'init'],
      ],
      'no kibana import without kibana.url',
    );
    for (const c of steps) {
      assert.equal(envOf(c, 'TICKCAST_KAFKA_BROKERS')?.value, 'kafka:9092');
      assert.equal(envOf(c, 'TICKCAST_ES_URL')?.value, 'http://elasticsearch:9200');
      assert.equal((c as { envFrom?: unknown }).envFrom, undefined);
      assert.equal(new Set(c.env?.map((e) => e.name)).size, c.env?.length, 'no duplicate variables');
    }
  });

  test('stream processors replace pods instead of surging (no two members of a group fighting over a rebalance)', () => {
    for (const s of STREAM_PROCESSORS) {
      assert.deepEqual(deployment(defaults(), s).spec.strategy?.rollingUpdate, { maxSurge: 0, maxUnavailable: 1 }, s);
    }
  });

  test('NetworkPolicies: ops port for every pod, the API port for the API, internet egress only where needed', () => {
    const base = named(defaults(), 'NetworkPolicy', 'tickcast');
    assert.deepEqual(base.spec.ingress, [{ ports: [{ port: 8080, protocol: 'TCP' }] }]);
    const egressPorts = base.spec.egress.flatMap((r: { ports: { port: number }[] }) => r.ports.map((p) => p.port));
    for (const p of [53, 9092, 9200]) assert.ok(egressPorts.includes(p), `egress to ${p}`);
    const api = named(defaults(), 'NetworkPolicy', 'tickcast-api');
    assert.equal(api.spec.ingress[0].ports[0].port, 8000);
    const internet = named(defaults(), 'NetworkPolicy', 'tickcast-internet');
    assert.deepEqual([...internet.spec.podSelector.matchExpressions[0].values].sort(), ['book', 'ingest', 'monitor', 'news', 'sentiment']);
  });

  test('the order-book service is off by default', () => {
    assert.ok(!ofKind(defaults(), 'Deployment').some((d) => d.metadata.name === 'tickcast-book'));
  });
});

describe('a value turns a feature on', () => {
  test('services.book.enabled runs `tickcast run book` as one replica on Kraken, with internet egress', () => {
    const objects = render(['--set', 'services.book.enabled=true']);
    const book = deployment(objects, 'book');
    assert.equal(book.spec.replicas, 1);
    const c = mainContainer(book);
    assert.deepEqual(c.args, ['run', 'book']);
    assert.equal(envOf(c, 'TICKCAST_BOOK_SOURCE')?.value, 'kraken');
    assert.equal(envOf(c, 'TICKCAST_KAFKA_CLIENT_ID')?.value, 'tickcast-book');
    const internet = named(objects, 'NetworkPolicy', 'tickcast-internet');
    assert.ok(internet.spec.podSelector.matchExpressions[0].values.includes('book'));
    const other = render(['--set', 'services.book.enabled=true', '--set', 'services.book.env.TICKCAST_BOOK_SOURCE=binance']);
    assert.equal(envOf(mainContainer(deployment(other, 'book')), 'TICKCAST_BOOK_SOURCE')?.value, 'binance');
  });

  test('api.ingress.enabled renders an Ingress to the API Service', () => {
    const objects = render(['--set', 'api.ingress.enabled=true', '--set', 'api.ingress.hosts[0].host=preds.example.org', '--set', 'api.ingress.hosts[0].paths[0].path=/', '--set', 'api.ingress.hosts[0].paths[0].pathType=Prefix']);
    const [ing, ...more] = ofKind(objects, 'Ingress');
    assert.equal(more.length, 0);
    assert.ok(ing);
    const rule = ing.spec.rules[0];
    assert.equal(rule.host, 'preds.example.org');
    assert.deepEqual(rule.http.paths[0].backend, { service: { name: 'tickcast-api', port: { name: 'http' } } });
    const svc = named(objects, 'Service', 'tickcast-api');
    assert.ok(svc.spec.ports.some((p: { name: string }) => p.name === 'http'), 'the Service has the port the Ingress names');
  });

  test('api.autoscaling.enabled renders an HPA on the API Deployment, which then leaves replicas to it', () => {
    const objects = render(['--set', 'api.autoscaling.enabled=true', '--set', 'api.autoscaling.minReplicas=3', '--set', 'api.autoscaling.maxReplicas=9']);
    const [hpa, ...more] = ofKind(objects, 'HorizontalPodAutoscaler');
    assert.equal(more.length, 0);
    assert.ok(hpa);
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'tickcast-api' });
    assert.equal(hpa.spec.minReplicas, 3);
    assert.equal(hpa.spec.maxReplicas, 9);
    assert.equal(deployment(objects, 'api').spec.replicas, undefined, 'replicas must be unset or every upgrade resets the HPA');
  });

  test('api.auth with an existing secret wires TICKCAST_API_KEYS from it, to the API only', () => {
    const objects = render(['--set', 'api.auth.enabled=true', '--set', 'secrets.existingSecret=my-secrets']);
    const env = envOf(mainContainer(deployment(objects, 'api')), 'TICKCAST_API_KEYS');
    assert.deepEqual(env?.valueFrom, { secretKeyRef: { name: 'my-secrets', key: 'TICKCAST_API_KEYS' } });
    for (const s of SERVICES.filter((x) => x !== 'api')) {
      assert.equal(envOf(mainContainer(deployment(objects, s)), 'TICKCAST_API_KEYS'), undefined, s);
    }
  });

  test('Elasticsearch basic auth reads the password from its Secret (ECK: key `elastic`) in every pod', () => {
    const objects = render(['--set', 'elasticsearch.auth.type=basic', '--set', 'elasticsearch.auth.username=elastic', '--set', 'elasticsearch.auth.existingSecret=tickcast-es-elastic-user', '--set', 'elasticsearch.auth.passwordKey=elastic']);
    const pods = [...ofKind(objects, 'Deployment'), ...ofKind(objects, 'CronJob'), ...ofKind(objects, 'Job')];
    assert.ok(pods.length >= SERVICES.length + 3);
    for (const o of pods) {
      const c = mainContainer(o);
      assert.equal(envOf(c, 'TICKCAST_ES_USERNAME')?.value, 'elastic', o.metadata.name);
      assert.deepEqual(envOf(c, 'TICKCAST_ES_PASSWORD')?.valueFrom, { secretKeyRef: { name: 'tickcast-es-elastic-user', key: 'elastic' } }, o.metadata.name);
    }
  });

  test('kibana.url adds the saved-objects import as the last init step; trainer.onDemand adds one Job per pair', () => {
    const objects = render(['--set', 'kibana.url=http://kb:5601', '--set', 'trainer.onDemand.enabled=true']);
    const spec = podSpec(named(objects, 'Job', 'tickcast-init'));
    assert.deepEqual(
      [...spec.initContainers, ...spec.containers].map((c: Container) => c.args),
      [
        ['topics', 'create'],
        ['stores', 'init'],
        ['kibana', 'import'],
      ],
    );
    const trainJobs = ofKind(objects, 'Job').filter((j) => j.metadata.labels?.['app.kubernetes.io/component'] === 'trainer');
    assert.deepEqual(trainJobs.map((j) => mainContainer(j).args[2]).sort(), ['BTC/USD', 'ETH/USD']);
    for (const j of trainJobs) assert.match(j.metadata.name, /-r1$/, 'named after the release revision');
  });

  test('the production-like values render every feature at once', () => {
    const objects = render(PROD);
    assert.equal(ofKind(objects, 'Ingress').length, 1);
    assert.equal(ofKind(objects, 'HorizontalPodAutoscaler').length, 1);
    assert.equal(ofKind(objects, 'CronJob').length, 4, 'one per pair');
    const monitor = mainContainer(deployment(objects, 'monitor'));
    assert.equal(envOf(monitor, 'TICKCAST_ALERT_SLACK_URL')?.valueFrom?.secretKeyRef?.name, 'tickcast-secrets');
    assert.equal(envOf(monitor, 'TICKCAST_ALERT_DISCORD_URL'), undefined, 'discord alerts are off');
    assert.equal(envOf(mainContainer(deployment(objects, 'sentiment')), 'TICKCAST_LLM_API_KEY')?.valueFrom?.secretKeyRef?.key, 'TICKCAST_LLM_API_KEY');
    assert.equal(envOf(mainContainer(deployment(objects, 'predictor')), 'NODE_EXTRA_CA_CERTS')?.value, '/etc/tickcast/es-ca/ca.crt');
    assert.equal(ofKind(objects, 'Secret').length, 0);
  });
});

describe('a missing required secret fails the render, saying what to set', () => {
  test('api.auth.enabled without secrets.existingSecret', () => {
    const err = failure(['--set', 'api.auth.enabled=true']);
    assert.match(err, /api\.auth\.enabled=true requires secrets\.existingSecret/);
    assert.match(err, /TICKCAST_API_KEYS/);
    assert.match(err, /kubectl create secret generic/);
  });

  test('Elasticsearch basic auth without its Secret', () => {
    const err = failure(['--set', 'elasticsearch.auth.type=basic', '--set', 'elasticsearch.auth.username=elastic']);
    assert.match(err, /elasticsearch\.auth\.type=basic requires elasticsearch\.auth\.existingSecret/);
  });

  test('LLM sentiment without a key (unless the server needs none)', () => {
    const err = failure(['--set', 'llm.enabled=true', '--set', 'llm.model=gpt-4o-mini']);
    assert.match(err, /TICKCAST_LLM_API_KEY/);
    render(['--set', 'llm.enabled=true', '--set', 'llm.model=llama3', '--set', 'llm.baseUrl=http://ollama:11434/v1', '--set', 'llm.apiKeyRequired=false']);
  });

  test('an alert channel without its URL secret', () => {
    assert.match(failure(['--set', 'alerts.discord=true']), /alerts\.discord=true requires secrets\.existingSecret.*TICKCAST_ALERT_DISCORD_URL/);
  });

  test('a PodDisruptionBudget that would block every drain', () => {
    assert.match(failure(['--set', 'services.api.replicas=1']), /minAvailable \(1\) must be below services\.api\.replicas \(1\)/);
  });
});

describe('values.schema.json rejects wrong values before rendering', () => {
  const schemaError = (args: string[], path: RegExp) => {
    const err = failure(args);
    assert.match(err, /values don't meet the specifications of the schema/, err);
    assert.match(err, path, err);
  };

  test('a wrong type', () => {
    schemaError(['--set-string', 'services.api.replicas=two'], /replicas/);
    schemaError(['--set', 'api.ingress.enabled=yes-please'], /enabled/);
  });

  test('a malformed pair, broker or URL', () => {
    schemaError(['--set', 'config.pairs={btc-usd}'], /pairs/);
    schemaError(['--set', 'kafka.brokers={kafka}'], /brokers/);
    schemaError(['--set', 'elasticsearch.url=elasticsearch:9200'], /url/);
  });

  test('a misspelt key', () => {
    schemaError(['--set', 'services.api.replica=3'], /replica/);
  });

  test('a secret smuggled in as a plain variable', () => {
    schemaError(['--set', 'config.extraEnv.TICKCAST_LLM_API_KEY=sk-123'], /invalid propertyName 'TICKCAST_LLM_API_KEY'/);
  });

  test('resources without limits', () => {
    schemaError(['--set', 'services.candles.resources.limits=null'], /limits/);
  });
});
