/**
 * Values in store SQL. Query handlers write placeholders `{name}` in their SQL and pass the values separately;
 * `bindParams` turns them into what the engine takes:
 * - DuckDB: `$name`, bound by the prepared statement;
 * - ClickHouse with query parameters (19.x and later): `{name:Type}` plus `param_name` values sent apart from the SQL;
 * - ClickHouse 18.16 (no query parameters): a literal made by `clickHouseLiteral`, the ONE escaping function.
 */

export type ParamValue = string | number | boolean | null | ReadonlyArray<string | number>;
export type Params = Record<string, ParamValue>;

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const CLICKHOUSE_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
};

/**
 * A ClickHouse SQL literal for a value: strings in single quotes with `\\`, `'` and control characters
 * backslash-escaped (ClickHouse "String literals" syntax); finite numbers as decimal/exponent text;
 * NaN and ±Infinity as `nan`, `inf`, `-inf`; booleans as 1/0; null as NULL; arrays as `[a, b]`.
 */
export function clickHouseLiteral(value: ParamValue): string {
  if (value === null) {
    return 'NULL';
  }
  if (Array.isArray(value)) {
    return `[${value.map((v) => clickHouseLiteral(v)).join(', ')}]`;
  }
  switch (typeof value) {
    case 'boolean':
      return value ? '1' : '0';
    case 'number':
      if (Number.isNaN(value)) {
        return 'nan';
      }
      if (!Number.isFinite(value)) {
        return value > 0 ? 'inf' : '-inf';
      }
      return String(value);
    case 'string':
      return `'${value.replace(/[\\'\n\r\t\0\b\f]/g, (c) => CLICKHOUSE_ESCAPES[c])}'`;
    default:
      throw new TypeError(`Cannot make a ClickHouse literal of a ${typeof value}`);
  }
}

/** The ClickHouse type named in a `{name:Type}` parameter for a JS value. */
export function clickHouseParamType(value: ParamValue): string {
  if (value === null) {
    return 'Nullable(String)';
  }
  if (Array.isArray(value)) {
    return value.every((v) => typeof v === 'number') ? 'Array(Float64)' : 'Array(String)';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? 'Int64' : 'Float64';
  }
  return typeof value === 'boolean' ? 'UInt8' : 'String';
}

export type BindMode = 'duckdb' | 'clickhouse-params' | 'clickhouse-literals';

export interface BoundQuery {
  sql: string;
  /** DuckDB: values by name; ClickHouse with parameters: query_params; literals mode: empty. */
  values: Params;
}

/**
 * Replaces every `{name}` placeholder in `sql` for the given mode. Throws when a placeholder has no value,
 * naming it, so a handler bug never turns into a silently different query.
 */
export function bindParams(sql: string, params: Params, mode: BindMode): BoundQuery {
  const used: Params = {};
  const text = sql.replace(PLACEHOLDER, (_match, name: string) => {
    if (!Object.prototype.hasOwnProperty.call(params, name)) {
      throw new Error(`Query placeholder {${name}} has no value; pass it in params.`);
    }
    const value = params[name];
    if (mode === 'clickhouse-literals') {
      return clickHouseLiteral(value);
    }
    used[name] = mode === 'clickhouse-params' && typeof value === 'boolean' ? Number(value) : value;
    return mode === 'duckdb' ? `$${name}` : `{${name}:${clickHouseParamType(value)}}`;
  });
  return { sql: text, values: used };
}
