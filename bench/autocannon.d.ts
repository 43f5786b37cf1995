// autocannon ships no type declarations; bench/api.ts types the part it uses where it imports it.
declare module 'autocannon';
