/**
 * Alert notifications: Slack and Discord incoming webhooks (their real payload
 * formats) and a generic JSON webhook. Each message says what fired or
 * resolved, the value against the threshold, and links to the dashboard.
 *
 * Delivery never throws: a failure (network error, timeout, 5xx, 429) is
 * retried with exponential backoff (429 honours Retry-After), bounded by
 * `maxAttempts`; then it is logged and counted. Other 4xx are not retried
 * (the URL or payload is wrong; retrying would not help).
 */
import type { Logger } from 'pino';
import type { AlertEvent } from './alert-rules.ts';
import { notificationsSent } from './monitor-metrics.ts';

export type ChannelKind = 'slack' | 'discord' | 'webhook';

export interface NotifierOptions {
  slackUrl?: string;
  discordUrl?: string;
  webhookUrl?: string;
  /** Linked from every message. */
  dashboardUrl?: string;
  /** Attempts per message and channel (default 5). */
  maxAttempts?: number;
  /** First backoff delay (default 1000 ms), doubled per attempt, capped at maxDelayMs (default 60 000). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Timeout of one POST (default 10 000 ms). */
  timeoutMs?: number;
  logger: Logger;
}

const EMOJI: Record<AlertEvent['state'], string> = { firing: '🔴', reminder: '🟠', resolved: '✅' };
const WORD: Record<AlertEvent['state'], string> = { firing: 'FIRING', reminder: 'STILL FIRING', resolved: 'RESOLVED' };

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

/** One line: what, where, value vs threshold, since when. */
export function alertText(e: AlertEvent): string {
  const r = e.rule;
  const head = `${EMOJI[e.state]} [${WORD[e.state]}] ${r.name} (${r.severity}) ${e.key}: ${r.summary}`;
  const detail =
    e.state === 'resolved'
      ? `now ${r.signal} = ${fmt(e.value)} (threshold ${r.op} ${fmt(r.threshold)}); was firing since ${iso(e.since_ms)}`
      : `${r.signal} = ${fmt(e.value)} ${r.op} ${fmt(r.threshold)} since ${iso(e.since_ms)}`;
  return `${head}. ${detail}.`;
}

/** Slack incoming webhook body: `text` (fallback, notifications) plus Block Kit blocks. */
export function slackPayload(e: AlertEvent, dashboardUrl?: string): { text: string; blocks: unknown[] } {
  const text = alertText(e);
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  if (dashboardUrl) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `<${dashboardUrl}|Open the tickcast dashboard>` }] });
  return { text: dashboardUrl ? `${text} ${dashboardUrl}` : text, blocks };
}

/** Discord webhook body: `content` plus one embed (colour by state, link to the dashboard). */
export function discordPayload(e: AlertEvent, dashboardUrl?: string): { content: string; embeds: unknown[] } {
  const color = e.state === 'resolved' ? 0x2e7d32 : e.rule.severity === 'critical' ? 0xc62828 : 0xef6c00;
  const text = alertText(e);
  return {
    content: text.slice(0, 2000),
    embeds: [
      {
        title: `${WORD[e.state]}: ${e.rule.name} ${e.key}`.slice(0, 256),
        description: e.rule.summary,
        ...(dashboardUrl ? { url: dashboardUrl } : {}),
        color,
        timestamp: new Date(e.at_ms).toISOString(),
        fields: [
          { name: 'value', value: fmt(e.value), inline: true },
          { name: 'threshold', value: `${e.rule.op} ${fmt(e.rule.threshold)}`, inline: true },
          { name: 'since', value: iso(e.since_ms), inline: true },
        ],
      },
    ],
  };
}

/** Generic JSON webhook body. */
export function webhookPayload(e: AlertEvent, dashboardUrl?: string): Record<string, unknown> {
  return {
    source: 'tickcast',
    state: e.state,
    rule: e.rule.name,
    severity: e.rule.severity,
    signal: e.rule.signal,
    key: e.key,
    value: e.value,
    op: e.rule.op,
    threshold: e.rule.threshold,
    since_ms: e.since_ms,
    at_ms: e.at_ms,
    summary: e.rule.summary,
    message: alertText(e),
    dashboard_url: dashboardUrl ?? null,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Notifier {
  private readonly log: Logger;
  private readonly inflight = new Set<Promise<void>>();
  private readonly channels: { kind: ChannelKind; url: string }[];

  constructor(private readonly opts: NotifierOptions) {
    this.log = opts.logger.child({ component: 'notifier' });
    this.channels = [
      ...(opts.slackUrl ? [{ kind: 'slack' as const, url: opts.slackUrl }] : []),
      ...(opts.discordUrl ? [{ kind: 'discord' as const, url: opts.discordUrl }] : []),
      ...(opts.webhookUrl ? [{ kind: 'webhook' as const, url: opts.webhookUrl }] : []),
    ];
  }

  /** The configured channels (for logs). */
  channelKinds(): ChannelKind[] {
    return this.channels.map((c) => c.kind);
  }

  /** Send an event to every channel in the background (never throws). */
  notify(e: AlertEvent): void {
    for (const c of this.channels) {
      const body =
        c.kind === 'slack' ? slackPayload(e, this.opts.dashboardUrl) : c.kind === 'discord' ? discordPayload(e, this.opts.dashboardUrl) : webhookPayload(e, this.opts.dashboardUrl);
      const p: Promise<void> = this.deliver(c.kind, c.url, body).then(
        () => undefined,
        () => undefined,
      );
      void p.finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
  }

  /** Resolve when every delivery in flight has finished (delivered or given up). */
  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  /** POST with bounded retries; resolves true when delivered. */
  async deliver(kind: ChannelKind, url: string, body: unknown): Promise<boolean> {
    const max = this.opts.maxAttempts ?? 5;
    const base = this.opts.baseDelayMs ?? 1000;
    const cap = this.opts.maxDelayMs ?? 60_000;
    const payload = JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      let retryAfterMs: number | null = null;
      let problem: string;
      let retryable = true;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: payload,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          notificationsSent().inc({ channel: kind, outcome: 'delivered' });
          if (attempt > 1) this.log.info({ channel: kind, attempt }, 'alert notification delivered after retries');
          return true;
        }
        problem = `HTTP ${res.status}`;
        retryable = res.status === 429 || res.status >= 500;
        const ra = res.headers.get('retry-after');
        if (res.status === 429 && ra !== null && Number.isFinite(Number(ra))) retryAfterMs = Number(ra) * 1000;
      } catch (e) {
        problem = (e as Error).message;
      }
      if (!retryable || attempt >= max) {
        notificationsSent().inc({ channel: kind, outcome: 'failed' });
        this.log.error({ channel: kind, attempts: attempt, problem }, 'alert notification failed; giving up');
        return false;
      }
      const delay = Math.min(cap, retryAfterMs ?? base * 2 ** (attempt - 1));
      this.log.warn({ channel: kind, attempt, problem, delay_ms: delay }, 'alert notification failed; retrying');
      await sleep(delay);
    }
  }
}
