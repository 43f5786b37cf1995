/**
 * Alert rules (configuration: a JSON list, with defaults) and the alert state
 * machine. Time is an input: `evaluate(signals, now_ms)`.
 *
 * A rule watches one signal (a named number per series key, e.g. the
 * prediction age of BTC/USD) and holds when `value <op> threshold`. Per
 * (rule, key): ok -> pending (held since t) -> firing once it held `for_s`
 * -> ok again when it stops holding (or the key disappears). One notification
 * per state change (firing, resolved) and, while firing, a reminder every
 * `reminder_s` (0 = never): no repeat storm.
 */
import { readFileSync } from 'node:fs';
import { Type, type Static } from '../contracts/typebox.ts';
import { validate } from '../contracts/codec.ts';

export const SignalName = Type.Union([
  /** Model MAE / baseline MAE on the same targets; key `<pair> <model_version>`, over the rule's window. */
  Type.Literal('mae_vs_baseline'),
  /** Seconds since the newest prediction / candle / feature row of a pair, sentiment row of a coin. */
  Type.Literal('prediction_age_s'),
  Type.Literal('candle_age_s'),
  Type.Literal('feature_age_s'),
  Type.Literal('sentiment_age_s'),
  /** Dead letters read in the last 10 minutes; key = source topic and `all`. */
  Type.Literal('dead_letters_10m'),
  /** Predictions whose target passed without a candle; key = pair. */
  Type.Literal('unresolved_predictions'),
  /** Largest consumer lag (messages); key = `all`. */
  Type.Literal('consumer_lag_messages'),
  /** LLM scoring errors per minute since the previous check; key = `all`. */
  Type.Literal('llm_errors_per_min'),
  /**
   * |observed - nominal| coverage of a served price interval, in percentage
   * points, over the rule's window (only with at least 30 resolved
   * intervals); key `<pair> <model_version> <level>` (level 80 or 90).
   */
  Type.Literal('coverage_error_points'),
  /** Volatility model QLIKE / its live baseline's (persistence) on the same targets, over the rule's window; key `<pair> <model_version>`. */
  Type.Literal('qlike_vs_baseline'),
  /** Page-Hinkley detections of a rise of a model's absolute errors in the last hour (event time); key `<pair> <target> <model_version>`. */
  Type.Literal('error_drift'),
  /** Hours a production model is past TICKCAST_MODEL_MAX_AGE_HOURS with no successful training of its pair and target; key `<pair> <target family> <version>`. */
  Type.Literal('model_expired_hours'),
]);
export type SignalName = Static<typeof SignalName>;

export const AlertRule = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9_.-]+$' }),
    signal: SignalName,
    op: Type.Union([Type.Literal('>'), Type.Literal('<')], { default: '>' }),
    threshold: Type.Number(),
    /** How long the condition must hold before the alert fires (seconds). */
    for_s: Type.Integer({ minimum: 0, default: 0 }),
    /** Reminder interval while firing (seconds); 0 = no reminders. */
    reminder_s: Type.Integer({ minimum: 0, default: 3600 }),
    severity: Type.Union([Type.Literal('warning'), Type.Literal('critical')], { default: 'warning' }),
    /** For the windowed signals (mae_vs_baseline, coverage_error_points, qlike_vs_baseline): the rolling window (default 1h). */
    window: Type.Optional(Type.Union([Type.Literal('1h'), Type.Literal('1d'), Type.Literal('7d')])),
    /** Human text; the notification says it. */
    summary: Type.String({ minLength: 1, maxLength: 500 }),
  },
  { additionalProperties: false },
);
export type AlertRule = Static<typeof AlertRule>;
export const AlertRules = Type.Array(AlertRule, { maxItems: 200 });

/** The default rules (override with a JSON file of the same shape). */
export const DEFAULT_RULES: readonly AlertRule[] = [
  { name: 'model_worse_than_baseline', signal: 'mae_vs_baseline', op: '>', threshold: 1, for_s: 1800, reminder_s: 3600, severity: 'warning', window: '1h', summary: "the model's rolling 1h MAE is above the persistence baseline's" },
  { name: 'no_prediction', signal: 'prediction_age_s', op: '>', threshold: 300, for_s: 0, reminder_s: 3600, severity: 'critical', summary: 'no prediction for more than 5 minutes' },
  { name: 'candles_stale', signal: 'candle_age_s', op: '>', threshold: 300, for_s: 60, reminder_s: 3600, severity: 'critical', summary: 'the newest candle is older than 5 minutes' },
  { name: 'features_stale', signal: 'feature_age_s', op: '>', threshold: 300, for_s: 60, reminder_s: 3600, severity: 'warning', summary: 'the newest feature row is older than 5 minutes' },
  { name: 'sentiment_stale', signal: 'sentiment_age_s', op: '>', threshold: 21600, for_s: 0, reminder_s: 21600, severity: 'warning', summary: 'no sentiment score for 6 hours' },
  { name: 'dead_letters_rising', signal: 'dead_letters_10m', op: '>', threshold: 0, for_s: 0, reminder_s: 3600, severity: 'warning', summary: 'messages are being dead-lettered' },
  { name: 'unresolved_predictions', signal: 'unresolved_predictions', op: '>', threshold: 0, for_s: 300, reminder_s: 3600, severity: 'warning', summary: 'predictions passed their target without a candle (feed outage?)' },
  { name: 'consumer_lag', signal: 'consumer_lag_messages', op: '>', threshold: 10000, for_s: 300, reminder_s: 3600, severity: 'warning', summary: 'a consumer group is falling behind' },
  { name: 'llm_errors', signal: 'llm_errors_per_min', op: '>', threshold: 5, for_s: 300, reminder_s: 3600, severity: 'warning', summary: 'the LLM sentiment scorer keeps failing' },
  { name: 'coverage_off', signal: 'coverage_error_points', op: '>', threshold: 5, for_s: 1800, reminder_s: 3600, severity: 'warning', window: '1d', summary: 'price interval coverage over the last day is more than 5 points from nominal (80% / 90%)' },
  { name: 'volatility_worse_than_baseline', signal: 'qlike_vs_baseline', op: '>', threshold: 1, for_s: 1800, reminder_s: 3600, severity: 'warning', window: '1d', summary: "the volatility model's QLIKE over the last day is above the persistence baseline's" },
  { name: 'error_drift', signal: 'error_drift', op: '>', threshold: 0, for_s: 0, reminder_s: 3600, severity: 'warning', summary: "a model's absolute errors rose (Page-Hinkley change detection)" },
  { name: 'model_expired', signal: 'model_expired_hours', op: '>', threshold: 0, for_s: 0, reminder_s: 21600, severity: 'warning', summary: 'a production model is older than TICKCAST_MODEL_MAX_AGE_HOURS with no successful retrain' },
];

/** Validate a rules list (defaults filled in); throws with the first problems. */
export function parseRules(value: unknown, where = 'alert rules'): AlertRule[] {
  if (!Array.isArray(value)) throw new Error(`${where}: expected a JSON array of rules`);
  const filled = value.map((r) =>
    r && typeof r === 'object' ? { op: '>', for_s: 0, reminder_s: 3600, severity: 'warning', ...(r as object) } : r,
  );
  const v = validate(AlertRules, filled);
  if (!v.ok) throw new Error(`${where}: ${v.reason}`);
  const names = new Set<string>();
  for (const r of v.value) {
    if (names.has(r.name)) throw new Error(`${where}: duplicate rule name ${r.name}`);
    names.add(r.name);
  }
  return v.value;
}

/** Rules from a JSON file, or the defaults. */
export function loadRules(file?: string): AlertRule[] {
  if (!file) return [...DEFAULT_RULES];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`alert rules file ${file}: ${(e as Error).message}`);
  }
  return parseRules(parsed, `alert rules file ${file}`);
}

/** One observed value of a signal. */
export interface Signal {
  signal: SignalName;
  key: string;
  value: number;
  /** For the windowed signals: the window it was computed over. */
  window?: '1h' | '1d' | '7d';
}

export type AlertState = 'firing' | 'resolved' | 'reminder';

/** A notification to send. */
export interface AlertEvent {
  state: AlertState;
  rule: AlertRule;
  key: string;
  value: number;
  /** When the condition started holding. */
  since_ms: number;
  at_ms: number;
}

/** An alert that holds now (pending: not yet for for_s). */
export interface ActiveAlert {
  rule: string;
  key: string;
  severity: AlertRule['severity'];
  state: 'pending' | 'firing';
  since_ms: number;
  value: number;
  threshold: number;
  summary: string;
}

interface Track {
  since_ms: number;
  firing: boolean;
  last_notified_ms: number;
  value: number;
}

export class AlertEngine {
  private readonly tracks = new Map<string, Track>();

  constructor(readonly rules: readonly AlertRule[]) {}

  /** Evaluate every rule against the signals of now; returns the notifications to send. */
  evaluate(signals: readonly Signal[], nowMs: number): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (const rule of this.rules) {
      const seen = new Set<string>();
      for (const s of signals) {
        if (s.signal !== rule.signal) continue;
        if (s.window !== undefined && s.window !== (rule.window ?? '1h')) continue;
        if (!Number.isFinite(s.value)) continue;
        const id = `${rule.name}\u0000${s.key}`;
        seen.add(id);
        const holds = rule.op === '>' ? s.value > rule.threshold : s.value < rule.threshold;
        const t = this.tracks.get(id);
        if (!holds) {
          if (t) this.clear(id, t, rule, s.key, s.value, nowMs, events);
          continue;
        }
        const track = t ?? { since_ms: nowMs, firing: false, last_notified_ms: 0, value: s.value };
        track.value = s.value;
        this.tracks.set(id, track);
        if (!track.firing && nowMs - track.since_ms >= rule.for_s * 1000) {
          track.firing = true;
          track.last_notified_ms = nowMs;
          events.push({ state: 'firing', rule, key: s.key, value: s.value, since_ms: track.since_ms, at_ms: nowMs });
        } else if (track.firing && rule.reminder_s > 0 && nowMs - track.last_notified_ms >= rule.reminder_s * 1000) {
          track.last_notified_ms = nowMs;
          events.push({ state: 'reminder', rule, key: s.key, value: s.value, since_ms: track.since_ms, at_ms: nowMs });
        }
      }
      // A key that vanished (no value any more) no longer holds.
      for (const [id, t] of this.tracks) {
        if (!id.startsWith(`${rule.name}\u0000`) || seen.has(id)) continue;
        this.clear(id, t, rule, id.slice(rule.name.length + 1), t.value, nowMs, events);
      }
    }
    return events;
  }

  private clear(id: string, t: Track, rule: AlertRule, key: string, value: number, nowMs: number, events: AlertEvent[]): void {
    this.tracks.delete(id);
    if (t.firing) events.push({ state: 'resolved', rule, key, value, since_ms: t.since_ms, at_ms: nowMs });
  }

  /** Alerts holding now, firing first. */
  active(): ActiveAlert[] {
    const byName = new Map(this.rules.map((r) => [r.name, r]));
    const out: ActiveAlert[] = [];
    for (const [id, t] of this.tracks) {
      const [name, key] = id.split('\u0000') as [string, string];
      const rule = byName.get(name);
      if (!rule) continue;
      out.push({ rule: name, key, severity: rule.severity, state: t.firing ? 'firing' : 'pending', since_ms: t.since_ms, value: t.value, threshold: rule.threshold, summary: rule.summary });
    }
    return out.sort((a, b) => (a.state === b.state ? a.since_ms - b.since_ms : a.state === 'firing' ? -1 : 1));
  }
}
