/**
 * TypeBox, loaded once, as CommonJS. Its ESM build is some 200 files, each one a request to
 * tsx's loader thread: about 450 ms of every command's start-up here, against about 140 ms
 * for the CommonJS build through require (measured with `node --import tsx` on this 2-core
 * machine). Every module takes TypeBox's values from here, never from '@sinclair/typebox'
 * itself, so one copy is loaded (TypeBox keeps state per copy: registries, system policy).
 * Type-only imports may name the package: they are erased.
 */
import { createRequire } from 'node:module';
import type * as TB from '@sinclair/typebox';
import type * as TBCompiler from '@sinclair/typebox/compiler';
import type * as TBSystem from '@sinclair/typebox/system';
import type * as TBValue from '@sinclair/typebox/value';

const require = createRequire(import.meta.url);
const tb = require('@sinclair/typebox') as typeof TB;

export const Type: typeof TB.Type = tb.Type;
export const Kind: typeof TB.Kind = tb.Kind;
export type { Static, TSchema, TObject, TProperties } from '@sinclair/typebox';

export const TypeCompiler: typeof TBCompiler.TypeCompiler = (require('@sinclair/typebox/compiler') as typeof TBCompiler).TypeCompiler;
export type { TypeCheck } from '@sinclair/typebox/compiler';
export const TypeSystemPolicy: typeof TBSystem.TypeSystemPolicy = (require('@sinclair/typebox/system') as typeof TBSystem).TypeSystemPolicy;
export const Value: typeof TBValue.Value = (require('@sinclair/typebox/value') as typeof TBValue).Value;
