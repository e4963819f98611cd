/**
 * The largest and smallest of a list of numbers in one pass. `Math.max(...values)` passes every value as an argument
 * and throws a RangeError (call stack size) past a hundred thousand or so; these never do.
 */

/** The largest value; −Infinity for none. */
export function largest(values: Iterable<number>): number {
  let result = -Infinity;
  for (const value of values) {
    if (value > result) {
      result = value;
    }
  }
  return result;
}

/** The smallest value; +Infinity for none. */
export function smallest(values: Iterable<number>): number {
  let result = Infinity;
  for (const value of values) {
    if (value < result) {
      result = value;
    }
  }
  return result;
}
