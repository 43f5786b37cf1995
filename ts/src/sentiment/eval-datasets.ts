/**
 * Labelled headline datasets for the sentiment evaluation.
 *
 * - Financial PhraseBank v1.0 (`Sentences_*.txt`): one `sentence@label` per
 *   line, label negative/neutral/positive. Sentences_50Agree/66Agree/75Agree
 *   are Latin-1, Sentences_AllAgree is UTF-8: the file is decoded as UTF-8
 *   when it is valid UTF-8, else as Latin-1.
 * - CryptoPanic headlines with community votes (m-marqx/Cryptopanic_scraper
 *   CSV): label positive if votes_positive > votes_negative, negative if
 *   votes_negative > votes_positive; ties (including no votes) are skipped.
 *   The human signal is sparse (264 of 4,173 posts have a positive or
 *   negative vote, most counts 1-3) and measures readers' reactions, not
 *   annotated sentiment: treat it as a weak check. It has no neutral class.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseCsvRecords } from '../news/csv.ts';
import { CLASSES, type SentimentClass } from './eval-metrics.ts';

export interface LabelledItem {
  title: string;
  summary: string;
  label: SentimentClass;
}

export interface Dataset {
  name: string;
  items: LabelledItem[];
  /** Rows read but not used (no label, tie, malformed). */
  skipped: number;
}

/** Decode bytes as UTF-8 when valid, else Latin-1 (ISO-8859-1). */
export function decodeUtf8OrLatin1(bytes: Buffer): { text: string; encoding: 'utf-8' | 'latin1' } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: bytes.toString('latin1'), encoding: 'latin1' };
  }
}

export function parsePhraseBank(text: string, name = 'phrasebank'): Dataset {
  const items: LabelledItem[] = [];
  let skipped = 0;
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.lastIndexOf('@');
    const label = at >= 0 ? line.slice(at + 1).trim().toLowerCase() : '';
    const sentence = at >= 0 ? line.slice(0, at).trim() : '';
    if (!sentence || !(CLASSES as readonly string[]).includes(label)) {
      skipped++;
      continue;
    }
    items.push({ title: sentence, summary: '', label: label as SentimentClass });
  }
  return { name, items, skipped };
}

export function loadPhraseBank(file: string): Dataset {
  return parsePhraseBank(decodeUtf8OrLatin1(readFileSync(file)).text, basename(file));
}

export function parseCryptoPanicVotes(text: string, name = 'cryptopanic'): Dataset {
  const items: LabelledItem[] = [];
  let skipped = 0;
  for (const r of parseCsvRecords(text)) {
    const pos = Number(r.votes_positive ?? '0');
    const neg = Number(r.votes_negative ?? '0');
    const title = (r.title ?? '').trim();
    if (!title || !Number.isFinite(pos) || !Number.isFinite(neg) || pos === neg) {
      skipped++;
      continue;
    }
    items.push({ title, summary: (r.description ?? '').trim(), label: pos > neg ? 'positive' : 'negative' });
  }
  return { name, items, skipped };
}

export function loadCryptoPanicVotes(file: string): Dataset {
  return parseCryptoPanicVotes(readFileSync(file, 'utf8'), basename(file));
}

/** By extension: .csv → CryptoPanic votes, anything else → PhraseBank. */
export function loadDataset(file: string): Dataset {
  return file.toLowerCase().endsWith('.csv') ? loadCryptoPanicVotes(file) : loadPhraseBank(file);
}
