/**
 * Encode and validate messages where they enter a service.
 * A message that fails gets a reason string; the caller dead-letters it.
 */
import { TypeCompiler, type TypeCheck } from './typebox.ts';
import type { TSchema, Static } from '@sinclair/typebox';
import { Topics, MAX_PAYLOAD_BYTES, TradeBatch, columnsMismatch, type TopicKey, type MessageOf } from './messages.ts';
import { fastCheck, type FastCheck } from './fast-check.ts';

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

const checks = new Map<TSchema, TypeCheck<TSchema>>();

/** The compiled validator of a schema (compiled once, cached). */
export function validatorOf<S extends TSchema>(schema: S): TypeCheck<S> {
  let c = checks.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    checks.set(schema, c);
  }
  return c as TypeCheck<S>;
}

const fastChecks = new Map<TSchema, FastCheck>();

/** A boolean check of a schema that accepts exactly what validatorOf's does, faster on feature maps (fast-check.ts; cached). */
export function fastCheckOf(schema: TSchema): FastCheck {
  let c = fastChecks.get(schema);
  if (!c) {
    c = fastCheck(schema, validatorOf);
    fastChecks.set(schema, c);
  }
  return c;
}

/**
 * Validate an already parsed value against a schema; reason lists the first errors.
 * Accepts what TypeBox's compiled check accepts (fast-check.ts: the same, faster on feature maps).
 */
/** Rules of a schema that JSON Schema cannot state, checked after it (the reason, or null). */
const refinements = new Map<TSchema, (value: never) => string | null>([[TradeBatch, columnsMismatch]]);

export function validate<S extends TSchema>(schema: S, value: unknown): Decoded<Static<S>> {
  if (fastCheckOf(schema)(value)) {
    const why = refinements.get(schema)?.(value as never) ?? null;
    return why === null ? { ok: true, value: value as Static<S> } : { ok: false, reason: `schema: ${why}` };
  }
  const errs = [...validatorOf(schema).Errors(value)].slice(0, 3).map((e) => `${e.path || '/'}: ${e.message}`);
  return { ok: false, reason: `schema: ${errs.join('; ')}` };
}

/** The schema a value of a topic is checked against: the topic's, or the member of its union the value claims to be. */
function schemaFor(topic: TopicKey, value: unknown): TSchema {
  const spec = Topics[topic] as { schema: TSchema; variant?: (v: unknown) => TSchema };
  return spec.variant ? spec.variant(value) : spec.schema;
}

/** Decode bytes from a stream into a validated message of that topic. */
export function decode<K extends TopicKey>(topic: K, bytes: Buffer | string | null): Decoded<MessageOf<K>> {
  if (bytes === null) return { ok: false, reason: 'empty payload' };
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
  if (size > MAX_PAYLOAD_BYTES) return { ok: false, reason: `payload too large: ${size} bytes > ${MAX_PAYLOAD_BYTES}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: `malformed JSON: ${(e as Error).message}` };
  }
  return validate(schemaFor(topic, parsed), parsed) as Decoded<MessageOf<K>>;
}

/** Encode a message for a stream; throws if it does not satisfy its schema (a bug in the producer). */
export function encode<K extends TopicKey>(topic: K, msg: MessageOf<K>): { key: string; value: Buffer } {
  const spec = Topics[topic];
  const v = validate(schemaFor(topic, msg), msg);
  if (!v.ok) throw new Error(`refusing to publish invalid ${spec.name} message: ${v.reason}`);
  return { key: (spec.key as (m: MessageOf<K>) => string)(msg), value: Buffer.from(JSON.stringify(msg)) };
}

/**
 * A private deep copy of a JSON message, equal to `JSON.parse(JSON.stringify(m))`
 * for what a schema can accept (plain objects, arrays, strings, finite numbers,
 * booleans, null): keys holding `undefined` are dropped and -0 becomes 0, as
 * JSON would. The in-process bus carries such copies instead of bytes.
 */
export function copyMessage<T>(m: T): T {
  return copyJson(m) as T;
}

function copyJson(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v === 0 ? 0 : v;
  if (Array.isArray(v)) {
    // slice() keeps a number array's packed double storage (a trade batch's columns); then what JSON would change.
    const a: unknown[] = v.slice();
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (x === undefined) a[i] = null;
      else if (x === 0) a[i] = 0;
      else if (typeof x === 'object' && x !== null) a[i] = copyJson(x);
    }
    return a;
  }
  // Spread first (V8 clones a plain object's layout in one step), then fix what JSON would change.
  const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  for (const k in o) {
    const x = o[k];
    if (x === undefined) delete o[k];
    else if (x === 0) o[k] = 0;
    else if (typeof x === 'object' && x !== null) o[k] = copyJson(x);
  }
  return o;
}

/**
 * Copy and validate a message for a stream without encoding it (the in-process
 * bus): the returned copy is the value that passed the schema, and it is
 * private to the bus. Throws like `encode` if the message is invalid.
 */
export function validatedCopy<K extends TopicKey>(topic: K, msg: MessageOf<K>): { key: string; message: MessageOf<K> } {
  const spec = Topics[topic];
  const copy = copyMessage(msg);
  const v = validate(schemaFor(topic, copy), copy);
  if (!v.ok) throw new Error(`refusing to publish invalid ${spec.name} message: ${v.reason}`);
  return { key: (spec.key as (m: MessageOf<K>) => string)(copy), message: copy };
}
