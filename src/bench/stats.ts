/** Order statistics of a figure's repetitions. */

export interface Summary {
  /** The median (the figure a report prints). */
  median: number;
  /** 5th percentile. */
  p5: number;
  /** 95th percentile. */
  p95: number;
  /** Smallest repetition. */
  min: number;
  /** Largest repetition. */
  max: number;
  /** Arithmetic mean. */
  mean: number;
  /** Number of repetitions. */
  reps: number;
}

/** Quantile q (0..1) of sorted values, linear interpolation between closest ranks. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  return {
    median: quantile(s, 0.5),
    p5: quantile(s, 0.05),
    p95: quantile(s, 0.95),
    min: s[0] ?? NaN,
    max: s[s.length - 1] ?? NaN,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    reps: s.length,
  };
}
