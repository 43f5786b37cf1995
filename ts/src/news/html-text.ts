/**
 * Plain text from the HTML found in feed summaries: drop script/style blocks
 * and tags, turn block boundaries into spaces, decode entities, collapse
 * whitespace. Feed XML itself is parsed by feedsmith; this only cleans the
 * HTML fragments publishers put inside descriptions.
 */

const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ndash: '–',
  mdash: '—',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  hellip: '…',
  laquo: '«',
  raquo: '»',
  copy: '©',
  reg: '®',
  trade: '™',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  deg: '°',
  middot: '·',
  bull: '•',
  times: '×',
};

function codePoint(n: number): string {
  return Number.isInteger(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : '';
}

/** Decode HTML entities (named subset above, decimal and hex). Unknown names are kept as written. */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z][a-z0-9]*);/gi, (m, body: string) => {
    if (body[0] === '#') {
      const n = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return codePoint(n) || m;
    }
    return NAMED[body.toLowerCase()] ?? m;
  });
}

/** Strip HTML to one line of text. Entities are decoded twice to undo the double escaping some feeds use (`&amp;#039;`). */
export function htmlToText(html: string | undefined): string {
  if (!html) return '';
  let s = html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<\/?(p|div|br|li|ul|ol|h[1-6]|tr|td|blockquote|figure|figcaption)\b[^>]*>/gi, ' ')
    .replace(/<[^>]*>/g, '');
  s = decodeEntities(s);
  if (/&(#x?[0-9a-f]+|[a-z]+);/i.test(s)) s = decodeEntities(s);
  return s.replace(/[\s\u00a0]+/g, ' ').trim();
}
