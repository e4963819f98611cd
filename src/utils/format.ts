/** A short human form of a number: 3 significant digits, exponent form below 1e-3 and from 1e6. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) {
    return String(value);
  }
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)) {
    return value.toExponential(2);
  }
  return String(Number(value.toPrecision(3)));
}
