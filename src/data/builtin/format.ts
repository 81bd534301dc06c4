/** How NI's synthetic tasks print values: Python-style lists, quoted lists, comma-joined answers. */

/** `[1, -2, 3]` (numbers as given; strings unquoted). */
export function fmtList(xs: readonly (number | string)[]): string {
  return `[${xs.join(', ')}]`;
}

/** `[[1, 2], [3]]` */
export function fmtNested(xss: readonly (readonly number[])[]): string {
  return `[${xss.map(fmtList).join(', ')}]`;
}

/** Python's repr of a list of strings: `['a', '34', 'f']`. */
export function fmtQuoted(xs: readonly string[]): string {
  return `[${xs.map((x) => `'${x}'`).join(', ')}]`;
}

/** The answers of the list-element tasks: `a, 34, f` (empty string for no elements). */
export function fmtJoin(xs: readonly (number | string)[]): string {
  return xs.join(', ');
}

/** Python's repr of a float: `2.0`, `12.5`, `-0.014` (values here are small and short). */
export function pyFloat(x: number): string {
  return Number.isInteger(x) ? `${x}.0` : String(x);
}
