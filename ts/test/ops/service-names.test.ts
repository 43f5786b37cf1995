/** The light list of service names the command line shows equals the registry's. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVICE_NAMES } from '../../src/services/service-names.ts';
import { registry } from '../../src/services/registry.ts';

test('SERVICE_NAMES lists the registry keys, in the registry order', () => {
  assert.deepEqual([...SERVICE_NAMES], [...registry.keys()]);
});
