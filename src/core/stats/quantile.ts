/** Math functions bound once: global lookups are slow inside sandboxed runtimes such as Jest's VM context. */
const { floor, min } = Math;

/**
 * Quantile of an ascending sample by linear interpolation between order statistics
 * (Hyndman & Fan 1996, definition 7; numpy's default `method='linear'`, R's `type = 7`):
 *   h = (n − 1)·p,  Q(p) = x_⌊h⌋ + (h − ⌊h⌋)·(x_⌊h⌋+1 − x_⌊h⌋)   (0-based order statistics).
 * The interpolation is evaluated from the nearer order statistic (as numpy does), so the result
 * equals `numpy.quantile(x, p)` to the last bit in most cases and to 1 ulp otherwise.
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) {
    throw new Error('quantileSorted: the sample is empty; pass at least one value');
  }
  if (!(p >= 0 && p <= 1)) {
    throw new Error(`quantileSorted: probability ${p} is outside [0, 1]`);
  }
  const h = (n - 1) * p;
  const lower = floor(h);
  const upper = min(lower + 1, n - 1);
  const t = h - lower;
  const a = sorted[lower];
  const b = sorted[upper];
  if (t === 0 || a === b) {
    return a;
  }
  return t < 0.5 ? a + (b - a) * t : b - (b - a) * (1 - t);
}
