/**
 * Quotes a name for DuckDB SQL. Names here come from a data file's own header and can be any text
 * (`petal width (cm)`, `a"b`), so they get the SQL-standard delimited identifier with every `"` doubled, which is
 * DuckDB's rule. Values never go through this: they are bound as parameters.
 */
export function quoteName(name: string): string {
  if (name.includes('\0')) {
    throw new Error(`A column name may not contain a NUL character: ${JSON.stringify(name)}`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}
