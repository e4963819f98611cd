/**
 * Plain text tables for the CLI's list and show commands: columns padded to their widest cell, two spaces apart.
 */

/** The table with its header line, one line per row, ending with a newline. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, j) => rows.reduce((width, row) => Math.max(width, row[j].length), h.length));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, j) => c.padEnd(widths[j]))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
