// A token bucket per client address, for upgrade and enrollment requests.
// The table of buckets is bounded: when full, the stalest half is dropped
// (a flood from many addresses cannot grow memory without limit).

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxAddresses = 100_000,
  ) {}

  /** Takes one token for `address`; false when it has none left. */
  take(address: string, now = Date.now()): boolean {
    let b = this.buckets.get(address);
    if (!b) {
      if (this.buckets.size >= this.maxAddresses) this.evict();
      b = { tokens: this.burst, at: now };
      this.buckets.set(address, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
      b.at = now;
      // Keep recently used addresses at the end of the map's order.
      this.buckets.delete(address);
      this.buckets.set(address, b);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private evict(): void {
    let n = this.buckets.size >> 1;
    for (const key of this.buckets.keys()) {
      if (n-- <= 0) break;
      this.buckets.delete(key);
    }
  }
}
