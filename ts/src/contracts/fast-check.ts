/**
 * A faster boolean check of a schema that accepts exactly what TypeBox's
 * compiled check accepts. It differs from TypeBox's in one place: the
 * required Record properties of an object (the feature maps of
 * TechnicalFeatures, BookFeatures, SentimentFeatures) are checked in a plain
 * loop that remembers which keys matched the key pattern, where TypeBox
 * generates `Object.entries(m).every(([key, value]) => pattern.test(key) ? ...)`:
 * an array per entry and a regular expression run per key, about 4 µs of
 * the 5.5 µs check of a 24-feature row (2.5 µs in all with this loop, on the
 * rows of bench/store-write.ts). Everything else of
 * the object is still TypeBox's compiled code; any other schema gets TypeBox's
 * check itself. The reasons of a rejection still come from TypeBox
 * (codec.ts validate). ts/test/contracts/fast-check.test.ts compares the two
 * on real and on hostile documents.
 */
import { Kind, Type, type TSchema } from './typebox.ts';
import { TypeSystemPolicy } from './typebox.ts';
import type { TypeCheck } from '@sinclair/typebox/compiler';

export type FastCheck = (value: unknown) => boolean;
/** TypeBox's compiler (codec.ts validatorOf: compiled once per schema). */
export type Compile = (schema: TSchema) => TypeCheck<TSchema>;

/** Keys remembered per Record schema as matching its key pattern (bounded: a hostile stream of new keys just runs the pattern). */
const MAX_REMEMBERED_KEYS = 1024;

interface RecordSchema extends TSchema {
  patternProperties: Record<string, TSchema>;
  additionalProperties?: unknown;
  minProperties?: unknown;
  maxProperties?: unknown;
}

const checkOf = (compile: Compile, schema: TSchema): FastCheck => {
  const c = compile(schema);
  return (v) => c.Check(v);
};

/**
 * The check of a Record as TypeBox's FromRecord generates it (record-like,
 * min/maxProperties on Object.getOwnPropertyNames, every own enumerable
 * entry whose key matches the pattern satisfies the value schema; a key that
 * does not match is accepted, or refused with additionalProperties: false),
 * or null for a Record this does not cover (a schema for additionalProperties).
 */
function recordCheck(schema: RecordSchema, compile: Compile): FastCheck | null {
  const patterns = Object.entries(schema.patternProperties);
  const first = patterns[0];
  if (first === undefined) return null;
  if (schema.additionalProperties !== undefined && typeof schema.additionalProperties !== 'boolean') return null;
  const otherKeyOk = schema.additionalProperties !== false;
  const min = typeof schema.minProperties === 'number' ? schema.minProperties : null;
  const max = typeof schema.maxProperties === 'number' ? schema.maxProperties : null;
  const pattern = new RegExp(first[0]); // no flags: test() keeps no state
  const valueOk = checkOf(compile, first[1]);
  const matched = new Set<string>();
  const keyMatches = (key: string): boolean => {
    if (matched.has(key)) return true;
    if (!pattern.test(key)) return false;
    if (matched.size < MAX_REMEMBERED_KEYS) matched.add(key);
    return true;
  };
  return (m) => {
    if (!TypeSystemPolicy.IsRecordLike(m)) return false;
    if (min !== null || max !== null) {
      const n = Object.getOwnPropertyNames(m).length;
      if ((min !== null && n < min) || (max !== null && n > max)) return false;
    }
    const rec = m as Record<string, unknown>;
    const keys = Object.keys(rec);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      if (keyMatches(key)) {
        if (!valueOk(rec[key])) return false;
      } else if (!otherKeyOk) return false;
    }
    return true;
  };
}

/** The fast check of a schema (build it once per schema: codec.ts caches it). */
export function fastCheck(schema: TSchema, compile: Compile): FastCheck {
  const required = schema.required as unknown;
  if (schema[Kind] !== 'Object' || !Array.isArray(required)) return checkOf(compile, schema);
  const props = schema.properties as Record<string, TSchema>;
  const records: { key: string; check: FastCheck }[] = [];
  const rest: Record<string, TSchema> = {};
  for (const key of Object.getOwnPropertyNames(props)) {
    const p = props[key] as TSchema;
    const check = p[Kind] === 'Record' && required.includes(key) ? recordCheck(p as RecordSchema, compile) : null;
    if (check === null) {
      rest[key] = p;
    } else {
      records.push({ key, check });
      // TypeBox checks a required Unknown property as `key in value`, which the record check implies.
      rest[key] = Type.Unknown();
    }
  }
  if (records.length === 0) return checkOf(compile, schema);
  const others = checkOf(compile, { ...schema, properties: rest });
  if (records.length === 1) {
    const { key, check } = records[0] as { key: string; check: FastCheck };
    return (v) => others(v) && check((v as Record<string, unknown>)[key]);
  }
  return (v) => others(v) && records.every((r) => r.check((v as Record<string, unknown>)[r.key]));
}
