/**
 * A fastify type provider for @sinclair/typebox 0.34 schemas (the version the
 * contracts use; @fastify/type-provider-typebox 6 targets `typebox` 1.x). Only
 * types: request parts and replies get their static types from the schemas.
 */
import type { FastifyTypeProvider } from 'fastify';
import type { Static, TSchema } from '@sinclair/typebox';

export interface TypeBoxProvider extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
  serializer: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
}
