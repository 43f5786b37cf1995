/**
 * The bus for a configuration: in-process (embedded) or Kafka (production).
 * Service code sees only `Bus`, the same on both.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { Bus } from './bus.ts';
import { KafkaTransport } from './kafka.ts';
import { MemoryTransport } from './memory.ts';

export { Bus, allTopicNames, type ConsumeOptions, type MessageMeta, type Subscription } from './bus.ts';
export { MemoryTransport } from './memory.ts';
export { KafkaTransport } from './kafka.ts';
export type { PartitionEnds, RawDelivery, RawRecord, Transport } from './transport.ts';
export { changelogTopic, changelogTopicNames, isChangelogTopic } from './changelog-names.ts';

type BusConfig = Pick<
  Config,
  | 'bus'
  | 'kafkaBrokers'
  | 'kafkaClientId'
  | 'kafkaPartitions'
  | 'kafkaReplicationFactor'
  | 'kafkaSessionTimeoutMs'
  | 'kafkaTopicPrefix'
  | 'lagIntervalMs'
  | 'handlerRetries'
>;

/** The Kafka transport of a configuration (also used by `tickcast topics create`). */
export function kafkaTransport(config: BusConfig, logger: Logger): KafkaTransport {
  return new KafkaTransport({
    logger,
    brokers: config.kafkaBrokers,
    clientId: config.kafkaClientId,
    partitions: config.kafkaPartitions,
    replicationFactor: config.kafkaReplicationFactor,
    topicPrefix: config.kafkaTopicPrefix,
    sessionTimeoutMs: config.kafkaSessionTimeoutMs,
    lagIntervalMs: config.lagIntervalMs,
  });
}

/** A bus (not started: call `start()`). */
export function createBus(config: BusConfig, logger: Logger): Bus {
  const transport = config.bus === 'kafka' ? kafkaTransport(config, logger) : new MemoryTransport({ logger });
  return new Bus(transport, { logger, retries: config.handlerRetries });
}
