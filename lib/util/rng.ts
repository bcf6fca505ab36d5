/**
 * Seeded pseudo-random numbers, so shuffles, crops, samplers and the synthetic dataset
 * are reproducible from one integer seed.
 *
 * @module
 */

/**
 * A small, fast, seeded generator (mulberry32 over a splitmix32-scrambled seed).
 * Its whole state is one 32-bit integer, so it can be saved in a checkpoint and resumed.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * const x = rng.next();        // uniform in [0, 1)
 * const k = rng.int(10);       // integer in [0, 10)
 * rng.shuffle([1, 2, 3]);
 * ```
 */
export class Rng {
  /** The generator state; assign a saved value to resume a sequence. */
  state: number;

  constructor(seed = 0) {
    // splitmix32 so that nearby seeds give unrelated streams
    let z = (seed | 0) + 0x9e3779b9;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    this.state = (z ^ (z >>> 16)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal sample (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffle an array in place (Fisher–Yates) and return it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A new generator whose stream is derived from this one (for independent sub-streams). */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 4294967296));
  }
}
