/**
 * Hands out strictly increasing millisecond timestamps, so that `updatedAfter` cursors taken from
 * a record's `updatedAt` never skip or repeat a record that changed in the same millisecond.
 */
export class MonotonicClock {
  private lastMs: number;

  constructor(startMs = 0) {
    this.lastMs = startMs;
  }

  next(): string {
    this.lastMs = Math.max(Date.now(), this.lastMs + 1);
    return new Date(this.lastMs).toISOString();
  }

  /**
   * Reserves `count` consecutive timestamps for pre-existing (seeded) data. They end at "now" when
   * possible, so seeded records look older than anything edited afterwards.
   */
  reserve(count: number): (index: number) => string {
    const firstMs = Math.max(this.lastMs + 1, Date.now() - count);
    this.lastMs = Math.max(this.lastMs, firstMs + count - 1);
    return (index) => new Date(firstMs + index).toISOString();
  }
}
