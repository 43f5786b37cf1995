/** Exchange trade sources: each emits validated `Trade`s into a TradeSink (see types.ts). */
export * from './types.ts';
export { backoffDelayMs, type BackoffOptions } from './backoff.ts';
export { normalizeKrakenPair, krakenRestPair, normalizeBinanceSymbol, binanceStreamSymbol } from './pairs.ts';
export { checkTrade, type RejectKind } from './trade-check.ts';
export { parseKrakenV2Frame, type KrakenV2Event, type SequencedTrade } from './kraken-ws-frames.ts';
export { KrakenWsSource, FatalSourceError, KRAKEN_WS_V2_URL, type KrakenWsOptions } from './kraken-ws.ts';
export { KrakenRestClient, KrakenRestBackfillSource, KrakenApiError, parseKrakenTradesResponse, KRAKEN_REST_URL, type KrakenBackfillOptions } from './kraken-rest.ts';
export { BinanceWsSource, parseBinanceFrame, readBinanceRecording, BINANCE_WS_URL, type BinanceWsOptions } from './binance.ts';
export { CsvImportSource, readTradeCsv, detectCsvFormat, inferFromFileName, type TradeCsvFormat, type TradeCsvOptions } from './trade-csv.ts';
export { ReplaySource, tradesOfFile, type ReplaySpeed, type ReplayOptions } from './replay.ts';
