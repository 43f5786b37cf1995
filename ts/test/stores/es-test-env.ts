/** The test Elasticsearch node: its URL from the environment, or a failure saying how to start it. */
import { randomBytes } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';

const HOW = 'start the test servers: bash scripts/services/with-services.sh node --import tsx --test ts/test/stores/<file>.test.ts';

/** TICKCAST_TEST_ES_URL, or throw (the test fails, it is never skipped). */
export function esUrl(): string {
  const url = process.env.TICKCAST_TEST_ES_URL;
  if (!url) throw new Error(`TICKCAST_TEST_ES_URL is not set: ${HOW}`);
  return url;
}

/** TICKCAST_TEST_ES_CTL (stop/start script of the test node), or throw. */
export function esCtl(): string {
  const ctl = process.env.TICKCAST_TEST_ES_CTL;
  if (!ctl) throw new Error(`TICKCAST_TEST_ES_CTL is not set: ${HOW}`);
  return ctl;
}

/** A fresh index prefix per test location. */
export const testPrefix = (): string => `tickcast-test-${randomBytes(4).toString('hex')}-`;

/** Delete every index of a prefix (by name: no wildcard delete needed). */
export async function deleteIndices(url: string, prefix: string): Promise<void> {
  const client = new Client({ node: url });
  try {
    const found = await client.indices.get({ index: `${prefix}*`, expand_wildcards: 'all' });
    const names = Object.keys(found);
    if (names.length > 0) await client.indices.delete({ index: names });
  } finally {
    await client.close();
  }
}
