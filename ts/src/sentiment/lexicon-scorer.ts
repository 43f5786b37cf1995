/**
 * `lexicon-v1`: the offline sentiment scorer used when no LLM is configured.
 * Same output schema as the LLM. Written for this project (no third-party
 * lexicon copied): ~200 finance/crypto words and phrases with weights in
 * [-3, 3].
 *
 * Rules, applied per sentence:
 * 1. Phrases (e.g. "all-time high", "sell-off") are matched before words.
 * 2. Negation: "not/no/never/without/n't/..." flips and damps (× -0.75) the
 *    first sentiment word at most 3 tokens after it.
 * 3. Intensifiers ("sharply", "massive", ...) up to 2 tokens before scale the
 *    next sentiment word × 1.5.
 * 4. Burden nouns (loss, debt, costs, layoffs, ...) combined within 4 tokens
 *    with a direction word invert the direction's sense: "loss narrowed" is
 *    good (+1.5), "debt rose" is bad (-1.5); the pair replaces both words.
 * Item score = tanh(sum / 3), so one mild word ≈ ±0.3 and strong evidence
 * saturates towards ±1. Every coin detected in title + summary gets the item
 * score; coins not mentioned are omitted.
 */
import { DEFAULT_COINS, detectCoins, type CoinSpec } from './coins.ts';
import type { ScoreRequest, ScoreResult, SentimentScorer, SentimentOutput } from './sentiment-output.ts';

/** Word weights. Direction words (up/down) are also in UP/DOWN below for rule 4. */
export const LEXICON: Readonly<Record<string, number>> = {
  // price and market moves, up
  surge: 2, surges: 2, surged: 2, surging: 2, soar: 2.5, soars: 2.5, soared: 2.5, soaring: 2.5,
  rally: 2, rallies: 2, rallied: 2, rallying: 2, jump: 1.5, jumps: 1.5, jumped: 1.5, climb: 1.2, climbs: 1.2,
  climbed: 1.2, gain: 1.2, gains: 1.2, gained: 1.2, rise: 1, rises: 1, rose: 1, rising: 1, risen: 1,
  increase: 1, increases: 1, increased: 1, increasing: 1, grew: 1.2, grow: 1, grows: 1, growing: 1, growth: 1.2,
  up: 0.6, higher: 0.8, high: 0.4, highs: 1, rebound: 1.5, rebounds: 1.5, rebounded: 1.5, recover: 1.2,
  recovers: 1.2, recovered: 1.2, recovery: 1.2, breakout: 1.5, bullish: 2.5, bull: 1.5, bulls: 1.2,
  boom: 1.5, booming: 1.8, skyrocket: 2.5, skyrockets: 2.5, skyrocketed: 2.5, moon: 1.5, pump: 1, pumps: 1,
  outperform: 1.5, outperforms: 1.5, outperformed: 1.5, upgrade: 1.5, upgraded: 1.5, upgrades: 1.2,
  // business results, positive
  profit: 1.2, profits: 1.2, profitable: 1.5, profitability: 1, record: 1, beat: 1.2, beats: 1.2, exceeded: 1.5,
  exceed: 1.2, exceeds: 1.2, strong: 1.2, stronger: 1.2, strongest: 1.5, robust: 1.2, improve: 1.2, improved: 1.5,
  improves: 1.2, improvement: 1.2, expand: 0.8, expands: 0.8, expanded: 0.8, expansion: 0.8, win: 1.2, wins: 1.2,
  won: 1.2, success: 1.5, successful: 1.5, positive: 1.2, optimistic: 1.5, optimism: 1.5, confidence: 0.8,
  approve: 1.2, approves: 1.2, approved: 1.5, approval: 1.5, adoption: 1.2, adopt: 0.8, adopts: 0.8,
  partnership: 1, partners: 0.6, launch: 0.5, launches: 0.5, launched: 0.5, inflow: 1.2, inflows: 1.5,
  accumulate: 1, accumulating: 1, accumulation: 1, milestone: 1, breakthrough: 1.5, upbeat: 1.5, boost: 1.5,
  boosts: 1.5, boosted: 1.5, dividend: 0.8, buyback: 1, opportunity: 0.8, opportunities: 0.8, favorable: 1.2,
  favourable: 1.2, benefit: 1, benefits: 1, upside: 1.2, momentum: 0.8, support: 0.5, recommend: 0.8,
  // price and market moves, down
  fall: -1.2, falls: -1.2, fell: -1.2, falling: -1.2, drop: -1.2, drops: -1.2, dropped: -1.2, dropping: -1.2,
  decline: -1.2, declines: -1.2, declined: -1.2, declining: -1.2, decrease: -1, decreases: -1, decreased: -1,
  decreasing: -1, down: -0.6, lower: -0.8, low: -0.4, lows: -1, slump: -2, slumps: -2, slumped: -2,
  plunge: -2.5, plunges: -2.5, plunged: -2.5, plummet: -2.5, plummets: -2.5, plummeted: -2.5, tumble: -2,
  tumbles: -2, tumbled: -2, crash: -2.5, crashes: -2.5, crashed: -2.5, dump: -1.5, dumps: -1.5, dumped: -1.5,
  sink: -1.5, sinks: -1.5, sank: -1.5, slide: -1.2, slides: -1.2, slid: -1.2, slip: -1, slips: -1, slipped: -1,
  bearish: -2.5, bear: -1.5, bears: -1.2, selloff: -2, correction: -1, capitulation: -2, liquidation: -1.5,
  liquidations: -1.5, liquidated: -1.5, outflow: -1.2, outflows: -1.5, downgrade: -1.5, downgraded: -1.5,
  underperform: -1.5, underperformed: -1.5, volatile: -0.5, volatility: -0.5, fear: -1.5, fears: -1.5,
  panic: -2, uncertainty: -1, uncertain: -1, weak: -1.2, weaker: -1.2, weakness: -1.2, weakening: -1.2,
  // business results, negative
  loss: -1.5, losses: -1.5, lost: -1.2, lose: -1.2, loses: -1.2, deficit: -1.2, debt: -0.8, debts: -0.8,
  miss: -1.2, misses: -1.2, missed: -1.2, layoffs: -1.5, layoff: -1.5, redundancies: -1.5, cut: -0.8, cuts: -0.8,
  cutting: -0.8, negative: -1.2, pessimistic: -1.5, warning: -1.5, warns: -1.5, warned: -1.5, profitwarning: -2,
  bankruptcy: -3, bankrupt: -3, insolvency: -2.5, insolvent: -2.5, default: -2, defaults: -2, collapse: -2.5,
  collapsed: -2.5, collapses: -2.5, struggle: -1.2, struggles: -1.2, struggling: -1.2, difficult: -1,
  difficulties: -1.2, worse: -1.5, worst: -2, worsened: -1.5, costs: -0.5, cost: -0.3, unemployment: -1,
  shutdown: -1.5, closure: -1.2, delay: -1, delays: -1, delayed: -1, halt: -1.5, halts: -1.5, halted: -1.5,
  suspend: -1.5, suspends: -1.5, suspended: -1.5, risk: -0.5, risks: -0.5, risky: -0.8, threat: -1.2,
  threatens: -1.2, concern: -1, concerns: -1, downside: -1.2,
  // crypto- and legal-specific
  hack: -2.5, hacked: -2.5, hacks: -2.5, hacker: -2, hackers: -2, exploit: -2.5, exploited: -2.5, exploiter: -2,
  breach: -2, stolen: -2.5, theft: -2.5, scam: -2.5, scams: -2.5, fraud: -2.5, fraudulent: -2.5, rugpull: -3,
  ponzi: -2.5, lawsuit: -1.5, lawsuits: -1.5, sue: -1.5, sues: -1.5, sued: -1.5, charged: -1.5, charges: -1,
  indicted: -2, arrest: -2, arrested: -2, ban: -2, bans: -2, banned: -2, crackdown: -2, sanction: -1.5,
  sanctions: -1.5, sanctioned: -1.5, fine: -0.5, fined: -1.5, penalty: -1.5, investigation: -1.2, probe: -1.2,
  subpoena: -1.5, reject: -1.5, rejects: -1.5, rejected: -1.5, rejection: -1.5, depeg: -2.5, depegged: -2.5,
  insolvent_exchange: -2, outage: -1.5, vulnerability: -1.5, manipulation: -1.5, delist: -2, delisted: -2,
  delisting: -2, recover_funds: 1, recovers_funds: 1, etf: 0.5, halving: 0.5, whales: 0.2, institutional: 0.5,
  legal: 0, settlement: 0.5, settles: 0.5, dismissed: 1, dismisses: 1, win_case: 1.5, clarity: 1,
  // phrases (rewritten into single tokens before tokenising, see PHRASES)
  all_time_high: 2.5, record_high: 2.5, sell_off: -2, short_squeeze: 1.5, profit_taking: -0.8,
  rate_cut: 1.2, rate_hike: -1.2, price_target_raised: 1.5, beat_expectations: 1.8, missed_expectations: -1.8,
  death_cross: -1.5, golden_cross: 1.5, to_the_moon: 2, under_pressure: -1.2, flash_crash: -2.5,
};

/** Multi-word expressions → tokens of LEXICON (matched case-insensitively, before tokenising). */
const PHRASES: [RegExp, string][] = [
  [/\ball[-\s]time[-\s]highs?\b|\bath\b/gi, ' all_time_high '],
  [/\brecord[-\s]highs?\b/gi, ' record_high '],
  [/\bsell[-\s]?offs?\b/gi, ' sell_off '],
  [/\bshort[-\s]squeeze\b/gi, ' short_squeeze '],
  [/\bprofit[-\s]taking\b/gi, ' profit_taking '],
  [/\b(?:interest[-\s])?rate[-\s]cuts?\b/gi, ' rate_cut '],
  [/\b(?:interest[-\s])?rate[-\s]hikes?\b/gi, ' rate_hike '],
  [/\bprofit[-\s]warning\b/gi, ' profitwarning '],
  [/\b(?:beat|beats|exceeded|topped)\s+(?:analyst\s+)?(?:expectations|estimates|forecasts)\b/gi, ' beat_expectations '],
  [/\b(?:missed|misses|miss)\s+(?:analyst\s+)?(?:expectations|estimates|forecasts)\b/gi, ' missed_expectations '],
  [/\bdeath[-\s]cross\b/gi, ' death_cross '],
  [/\bgolden[-\s]cross\b/gi, ' golden_cross '],
  [/\bto\s+the\s+moon\b/gi, ' to_the_moon '],
  [/\bunder\s+pressure\b/gi, ' under_pressure '],
  [/\bflash[-\s]crash\b/gi, ' flash_crash '],
  [/\brug[-\s]?pull\b/gi, ' rugpull '],
  [/\brecover(?:s|ed)?\s+(?:the\s+)?(?:entire\s+)?(?:stolen\s+)?funds\b/gi, ' recover_funds '],
];

const NEGATORS = new Set([
  'not', 'no', 'never', 'without', 'nor', 'neither', 'cannot', 'cant', 'dont', 'doesnt', 'didnt', 'isnt', 'wasnt',
  'arent', 'werent', 'wont', 'wouldnt', 'shouldnt', 'hasnt', 'havent', 'hadnt', 'fails', 'failed', 'fail', 'unable',
  'hardly', 'barely', 'avoid', 'avoids', 'avoided',
]);
const INTENSIFIERS = new Set([
  'very', 'sharply', 'significantly', 'substantially', 'strongly', 'massive', 'massively', 'huge', 'hugely',
  'major', 'big', 'biggest', 'heavy', 'heavily', 'steep', 'steeply', 'dramatically', 'extremely', 'record',
]);
/** Nouns whose direction reverses the sense of a move (rule 4). */
const BURDENS = new Set([
  'loss', 'losses', 'debt', 'debts', 'deficit', 'costs', 'cost', 'expenses', 'unemployment', 'layoffs',
  'liabilities', 'outflows', 'outflow', 'losses', 'inflation', 'fees', 'risk', 'risks', 'volatility', 'impairment',
]);
const UP = new Set(['rose', 'rise', 'rises', 'rising', 'increase', 'increased', 'increases', 'increasing', 'grew',
  'grow', 'grows', 'growing', 'higher', 'up', 'jumped', 'jump', 'jumps', 'surged', 'surge', 'surges', 'doubled', 'widened', 'climbed']);
const DOWN = new Set(['fell', 'fall', 'falls', 'decreased', 'decrease', 'decreases', 'decreasing', 'declined',
  'decline', 'declines', 'lower', 'down', 'narrowed', 'narrow', 'narrows', 'reduced', 'reduce', 'reduces', 'cut',
  'cuts', 'dropped', 'drop', 'drops', 'shrank', 'halved', 'eased', 'slid']);

export function tokenize(text: string): string[][] {
  let s = text.replace(/[’‘`]/g, "'");
  for (const [re, tok] of PHRASES) s = s.replace(re, tok);
  s = s.toLowerCase().replace(/n't\b/g, ' not').replace(/'s\b/g, '');
  return s
    .split(/[.!?;:]+(?:\s|$)|\n+/)
    .map((sent) => sent.match(/[a-z0-9_]+(?:'[a-z]+)?/g) ?? [])
    .filter((t) => t.length > 0);
}

export interface LexiconHit {
  token: string;
  weight: number;
}

/** Score one text: the raw sum, the [-1, 1] score and the contributing hits. */
export function lexiconScore(text: string): { sum: number; score: number; hits: LexiconHit[] } {
  const hits: LexiconHit[] = [];
  for (const sent of tokenize(text)) {
    const used = new Set<number>();
    // Rule 4 first: burden + direction pairs within 4 tokens.
    for (let i = 0; i < sent.length; i++) {
      if (!BURDENS.has(sent[i]!)) continue;
      for (let j = Math.max(0, i - 4); j <= Math.min(sent.length - 1, i + 4); j++) {
        if (j === i || used.has(j)) continue;
        const w = sent[j]!;
        const dir = UP.has(w) ? -1.5 : DOWN.has(w) ? 1.5 : 0;
        if (dir === 0) continue;
        const negated = sent.slice(Math.max(0, Math.min(i, j) - 3), Math.min(i, j)).some((t) => NEGATORS.has(t));
        hits.push({ token: `${sent[i]}~${w}`, weight: negated ? -0.75 * dir : dir });
        used.add(i).add(j);
        break;
      }
    }
    // A negator applies to the first sentiment word at most 3 tokens after it.
    let negAt: number | undefined;
    for (let i = 0; i < sent.length; i++) {
      const tok = sent[i]!;
      if (NEGATORS.has(tok)) {
        negAt = i;
        continue;
      }
      if (used.has(i)) continue;
      const base = LEXICON[tok];
      if (base === undefined || base === 0) continue;
      let w = base;
      if (sent.slice(Math.max(0, i - 2), i).some((t) => INTENSIFIERS.has(t) && t !== tok)) w *= 1.5;
      if (negAt !== undefined && i - negAt <= 3) w *= -0.75;
      negAt = undefined;
      hits.push({ token: tok, weight: w });
    }
  }
  const sum = hits.reduce((a, h) => a + h.weight, 0);
  return { sum, score: Math.tanh(sum / 3), hits };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function reasonOf(hits: LexiconHit[]): string {
  if (hits.length === 0) return 'lexicon: no sentiment words';
  const parts = [...hits]
    .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight))
    .slice(0, 6)
    .map((h) => `${h.token.replace(/_/g, ' ')}(${h.weight > 0 ? '+' : ''}${round3(h.weight)})`);
  return `lexicon: ${parts.join(', ')}`.slice(0, 300);
}

export const LEXICON_MODEL = 'lexicon-v1';

/** The lexicon as a SentimentScorer (no network, no tokens, deterministic). */
export function lexiconScorer(coins: readonly CoinSpec[] = DEFAULT_COINS): SentimentScorer {
  return {
    model: LEXICON_MODEL,
    kind: 'lexicon',
    async score(req: ScoreRequest): Promise<ScoreResult> {
      return { output: lexiconOutput(req, coins), usage: { prompt_tokens: 0, completion_tokens: 0 } };
    },
  };
}

/** The synchronous core of the lexicon scorer. */
export function lexiconOutput(req: ScoreRequest, coins: readonly CoinSpec[] = DEFAULT_COINS): SentimentOutput {
  const text = `${req.title}. ${req.summary}`;
  const { score, hits } = lexiconScore(text);
  const s = round3(score);
  const reason = reasonOf(hits);
  return { overall: s, coins: detectCoins(text, coins).map((coin) => ({ coin, score: s, reason })) };
}
