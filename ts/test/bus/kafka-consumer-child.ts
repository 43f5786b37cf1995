/**
 * A consumer process for the Kafka restart test (not a test itself). It consumes
 * `trades` in a group and writes one line `P <natural key>` per message it
 * processed, before the offset can be committed. With EXIT_AT=n it dies inside
 * the handler of the n-th message (processed, not committed), like a crash.
 * The parent may also SIGKILL it at any point.
 */
import { writeSync } from 'node:fs';
import { Bus } from '../../src/bus/bus.ts';
import { KafkaTransport } from '../../src/bus/kafka.ts';
import { Topics } from '../../src/contracts/messages.ts';
import { createLogger } from '../../src/ops/logger.ts';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const exitAt = Number(process.env.EXIT_AT ?? '0');
const logger = createLogger({ level: 'warn', destination: process.stderr as never });
const transport = new KafkaTransport({
  logger,
  brokers: [env('BROKERS')],
  clientId: 'restart-child',
  partitions: 3,
  replicationFactor: 1,
  topicPrefix: env('PREFIX'),
  sessionTimeoutMs: 6000,
  lagIntervalMs: 0,
});
const bus = new Bus(transport, { logger });
await bus.start();
let n = 0;
await bus.consume({
  group: env('GROUP'),
  topics: ['trades'],
  fromBeginning: true,
  handler: (t, meta) => {
    n++;
    writeSync(1, `P ${Topics.trades.naturalKey(t)} ${meta.partition}:${meta.offset}\n`);
    if (exitAt > 0 && n === exitAt) {
      writeSync(1, 'CRASH\n');
      process.exit(70); // dies before this offset is committed
    }
  },
});
writeSync(1, 'READY\n');
