#!/usr/bin/env node
// The `tickcast` command: runs ts/src/cli.ts through tsx's ESM loader (no build step).
import { register } from 'tsx/esm/api';

register();
await import(new URL('../ts/src/cli.ts', import.meta.url).href);
