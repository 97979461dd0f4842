import { fail } from './google-errors.js';

/**
 * Compute Engine's list `filter`, the subset tsuite's callers use, with both documented syntaxes:
 *
 * - AIP-160 style: `FIELD = VALUE`, `FIELD != VALUE`, `FIELD:VALUE`, `FIELD:*` (the field or label
 *   is present), values bare or quoted; a trailing `*` in a `:` value matches a prefix.
 * - regular-expression style: `FIELD eq REGEX`, `FIELD ne REGEX`, where REGEX (RE2) must match the
 *   whole value.
 *
 * FIELD is a dotted path into the resource (`name`, `status`, `labels.run-id`). Several
 * expressions, each in parentheses, are ANDed; explicit `AND` and `OR` between them are honoured
 * (AND binds tighter). An empty filter matches everything. Anything else is a 400, as Compute
 * answers an expression it cannot parse.
 */
export type Predicate = (resource: Record<string, unknown>) => boolean;

export function parseFilter(filter: string | null): Predicate {
  const text = (filter ?? '').trim();
  if (text === '') return () => true;
  const groups: Predicate[][] = [[]];
  for (const token of splitTerms(text)) {
    if (/^AND$/i.test(token)) continue;
    if (/^OR$/i.test(token)) {
      groups.push([]);
      continue;
    }
    groups[groups.length - 1]!.push(parseTerm(token));
  }
  if (groups.some((g) => g.length === 0)) invalid(text);
  return (r) => groups.some((g) => g.every((p) => p(r)));
}

const invalid = (text: string): never => fail(400, `Invalid value for field 'filter': '${text}'. Invalid list filter expression.`);

/** Top-level terms: parenthesised groups, `AND`/`OR`, or (with no parentheses) the whole text. */
function splitTerms(text: string): string[] {
  if (!text.startsWith('(')) return [text];
  const terms: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    if (text[i] === '(') {
      let depth = 0;
      let j = i;
      let quote = '';
      for (; j < text.length; j++) {
        const c = text[j]!;
        if (quote) {
          if (c === quote) quote = '';
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '(') depth++;
        else if (c === ')' && --depth === 0) break;
      }
      if (j >= text.length) invalid(text);
      terms.push(text.slice(i + 1, j).trim());
      i = j + 1;
    } else {
      const m = /^(AND|OR)\b/i.exec(text.slice(i));
      if (!m) invalid(text);
      terms.push(m![1]!);
      i += m![1]!.length;
    }
  }
  return terms;
}

function parseTerm(term: string): Predicate {
  const m = /^([A-Za-z_][\w.-]*)\s*(!=|=|:|\s+eq\s+|\s+ne\s+)\s*(.*)$/s.exec(term);
  if (!m) return invalid(term);
  const path = m[1]!;
  const op = m[2]!.trim();
  const value = unquote(m[3]!.trim());
  const read = (r: Record<string, unknown>) => lookup(r, path);
  switch (op) {
    case '=':
      return (r) => str(read(r)) === value;
    case '!=':
      return (r) => str(read(r)) !== value;
    case ':':
      if (value === '*') return (r) => read(r) !== undefined;
      if (value.endsWith('*')) return (r) => str(read(r))?.startsWith(value.slice(0, -1)) ?? false;
      return (r) => str(read(r)) === value;
    default: {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${value})$`);
      } catch {
        return invalid(term);
      }
      return op === 'eq' ? (r) => re.test(str(read(r)) ?? '') : (r) => !re.test(str(read(r)) ?? '');
    }
  }
}

function unquote(v: string): string {
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.endsWith(v[0]!)) return v.slice(1, -1);
  return v;
}

function lookup(r: Record<string, unknown>, path: string): unknown {
  let at: unknown = r;
  for (const part of path.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : typeof v === 'object' ? JSON.stringify(v) : String(v));
