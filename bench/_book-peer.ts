// The peer of bench/book.ts: a plain TypeScript L2 book (per side, sorted arrays of price and
// quantity with the best level last, binary search, splice), doing per message what the Rust
// side does before its per-minute arithmetic: apply the levels, truncate to the depth, and read
// the top of the book (best bid/ask, depth of the best 10 levels per side).
export class PlainTsBook {
  private readonly bidPx: number[] = [];
  private readonly bidQty: number[] = [];
  // Asks keyed by -price so that both sides sort ascending with the best last.
  private readonly askKey: number[] = [];
  private readonly askQty: number[] = [];
  /** Best bid, best ask, summed top-10 depth of each side, after the last message. */
  readonly view = { bid: NaN, ask: NaN, bidDepth10: 0, askDepth10: 0 };

  constructor(private readonly depth = Infinity) {}

  private static set(keys: number[], qty: number[], key: number, q: number): void {
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    if (lo < keys.length && keys[lo] === key) {
      if (q === 0) {
        keys.splice(lo, 1);
        qty.splice(lo, 1);
      } else qty[lo] = q;
    } else if (q !== 0) {
      keys.splice(lo, 0, key);
      qty.splice(lo, 0, q);
    }
  }

  apply(snapshot: boolean, bids: Float64Array, asks: Float64Array): void {
    if (snapshot) {
      this.bidPx.length = this.bidQty.length = this.askKey.length = this.askQty.length = 0;
    }
    for (let i = 0; i < bids.length; i += 2) PlainTsBook.set(this.bidPx, this.bidQty, bids[i]!, bids[i + 1]!);
    for (let i = 0; i < asks.length; i += 2) PlainTsBook.set(this.askKey, this.askQty, -asks[i]!, asks[i + 1]!);
    for (const [k, q] of [[this.bidPx, this.bidQty], [this.askKey, this.askQty]] as const) {
      if (k.length > this.depth) {
        k.splice(0, k.length - this.depth);
        q.splice(0, q.length - this.depth);
      }
    }
    const nb = this.bidPx.length;
    const na = this.askKey.length;
    this.view.bid = nb ? this.bidPx[nb - 1]! : NaN;
    this.view.ask = na ? -this.askKey[na - 1]! : NaN;
    let b = 0;
    let a = 0;
    for (let i = 1; i <= 10; i++) {
      if (nb - i >= 0) b += this.bidQty[nb - i]!;
      if (na - i >= 0) a += this.askQty[na - i]!;
    }
    this.view.bidDepth10 = b;
    this.view.askDepth10 = a;
  }
}
