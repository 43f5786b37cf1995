/**
 * The chart's optional lag-based autoscaling (issue 19.5): off by default; on,
 * one KEDA ScaledObject per listed stream service, on its own consumer group's
 * lag on its own input topic (with the topic prefix), at most as many replicas
 * as partitions; the schema refuses services it has no input for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { named, ofKind, render, requireTools, template } from './helm.ts';

requireTools();

test('KEDA ScaledObjects: none by default; on, per service its group, its input topic, replicas capped at the partitions', () => {
  assert.equal(ofKind(render(), 'ScaledObject').length, 0);
  const objs = render(['--set', 'keda.enabled=true', '--set', 'keda.services={candles,features,predictor}', '--set', 'kafka.partitions=6', '--set', 'keda.maxReplicas=9', '--set', 'kafka.topicPrefix=prod-']);
  const so = ofKind(objs, 'ScaledObject');
  assert.equal(so.length, 3);
  const want: Record<string, [string, string]> = { candles: ['prod-candles', 'prod-trades'], features: ['prod-features', 'prod-candles'], predictor: ['prod-predictor', 'prod-features.technical'] };
  for (const [svc, [group, topic]] of Object.entries(want)) {
    const o = named(objs, 'ScaledObject', `tickcast-${svc}`);
    assert.equal(o.apiVersion, 'keda.sh/v1alpha1');
    assert.equal(o.spec.scaleTargetRef.name, `tickcast-${svc}`);
    // The Deployment it scales exists.
    named(objs, 'Deployment', `tickcast-${svc}`);
    assert.equal(o.spec.maxReplicaCount, 6, 'capped at kafka.partitions');
    const [trigger] = o.spec.triggers;
    assert.equal(trigger.type, 'kafka');
    assert.equal(trigger.metadata.consumerGroup, group);
    assert.equal(trigger.metadata.topic, topic);
    assert.equal(trigger.metadata.lagThreshold, '5000');
  }
  const bad = template(['--set', 'keda.enabled=true', '--set', 'keda.services={ingest}']);
  assert.notEqual(bad.status, 0, 'ingest has no consumer group to scale on');
  assert.match(bad.stderr, /keda/);
});
