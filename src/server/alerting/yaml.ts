/**
 * A YAML writer for the provisioning files: block mappings and sequences of plain data (strings, numbers, booleans,
 * null, arrays, objects), with `#` comments before top-level keys. The output is YAML 1.2 that also reads back as
 * the same data with YAML 1.1 parsers (Grafana reads provisioning files with Go's yaml.v3):
 *
 * - a string is written plain only when it cannot read as anything else (no indicator characters, not a number,
 *   boolean, null or date-like word, no leading/trailing spaces); multi-line strings as literal blocks (`|-`, or `|`
 *   with a final newline); everything else double-quoted with JSON's escapes, which YAML's double-quoted style shares;
 * - lists of scalars in flow style (`[a, b]`), empty arrays and objects as `[]` and `{}`; keys follow the same
 *   quoting rule.
 */

/** Data a provisioning file holds. */
export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue | undefined };

/** Words YAML 1.1 parsers read as booleans or null, in any case. */
const RESERVED = /^(?:y|n|yes|no|on|off|true|false|null|~)$/i;
/** Anything that may read as a number, a date or a time (YAML 1.1 sexagesimal included): quoted. */
const NUMBER_LIKE = /^[-+.]?\d|^[-+]?\.(?:inf|nan)$|^0[xob]/i;
const PLAIN = /^[A-Za-z_/][A-Za-z0-9_ ./@()=,+-]*$/;

/** Whether a string can be written without quotes and read back as the same string. */
function isPlain(text: string): boolean {
  return (
    PLAIN.test(text) && !RESERVED.test(text) && !NUMBER_LIKE.test(text) && text.trim() === text && !/ #|: /.test(text)
  );
}

function scalar(value: string | number | boolean | null): string {
  if (value === null) {
    return 'null';
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new RangeError(`${value} cannot be written to a provisioning file`);
    }
    return String(value);
  }
  if (typeof value === 'boolean') {
    return String(value);
  }
  return isPlain(value) ? value : JSON.stringify(value);
}

/** A multi-line string as a literal block at `indent`, when every line can be written as it is. */
function literalBlock(text: string, indent: string): string | undefined {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  const lines = body.split('\n');
  const writable = lines.every((line) => !/[\t\r]/.test(line) && line.trimEnd() === line) && !/^\s/.test(lines[0]);
  if (!text.includes('\n') || !writable || body.endsWith('\n') || body === '') {
    return undefined;
  }
  const chomp = text.endsWith('\n') ? '|' : '|-';
  return `${chomp}\n${lines.map((line) => (line === '' ? '' : indent + line)).join('\n')}`;
}

function isEmpty(value: YamlValue): boolean {
  return Array.isArray(value)
    ? value.length === 0
    : typeof value === 'object' && value !== null && !Object.values(value).some((v) => v !== undefined);
}

/** The lines of `value` as the value of a key or item at `indent` (the part after `key:` or `-`). */
function node(value: YamlValue, indent: string): string {
  if (value === null || typeof value !== 'object') {
    const block = typeof value === 'string' ? literalBlock(value, indent + '  ') : undefined;
    return ' ' + (block ?? scalar(value));
  }
  if (isEmpty(value)) {
    return Array.isArray(value) ? ' []' : ' {}';
  }
  if (Array.isArray(value) && value.every((item) => item === null || typeof item !== 'object')) {
    // A list of scalars in flow style, `[a, b]`: a plain scalar there must not hold a comma.
    const item = (v: string | number | boolean | null) =>
      typeof v === 'string' && v.includes(',') ? JSON.stringify(v) : scalar(v);
    return ` [${(value as Array<string | number | boolean | null>).map(item).join(', ')}]`;
  }
  return '\n' + lines(value, indent + '  ');
}

function lines(value: YamlValue[] | { [key: string]: YamlValue | undefined }, indent: string): string {
  if (Array.isArray(value)) {
    return value
      .map((item) => {
        if (item !== null && typeof item === 'object' && !Array.isArray(item) && !isEmpty(item)) {
          // A mapping as a sequence item starts on the dash's line.
          return `${indent}- ${lines(item, indent + '  ').trimStart()}`;
        }
        return `${indent}-${node(item, indent)}`;
      })
      .join('\n');
  }
  return Object.entries(value)
    .filter((entry): entry is [string, YamlValue] => entry[1] !== undefined)
    .map(([key, item]) => `${indent}${scalar(key)}:${node(item, indent)}`)
    .join('\n');
}

/**
 * A YAML document of `data`, an object, with `comments` (one or more lines, without `#`) written before the keys
 * they name and `header` lines at the top.
 */
export function toYaml(
  data: { [key: string]: YamlValue | undefined },
  header: string[] = [],
  comments: Record<string, string[]> = {}
): string {
  const out = header.map((line) => (line ? `# ${line}` : '#'));
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined) {
      continue;
    }
    if (out.length > 0) {
      out.push('');
    }
    out.push(...(comments[key] ?? []).map((line) => `# ${line}`));
    out.push(`${scalar(key)}:${node(value, '')}`);
  }
  return out.join('\n') + '\n';
}
