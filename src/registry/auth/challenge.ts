/** One authentication challenge from a `WWW-Authenticate` header (RFC 7235 §2.1, §4.1). */
export interface Challenge {
  /** Auth scheme, lower-case (`bearer`, `basic`). */
  scheme: string;
  /** Auth parameters; keys lower-case, values unquoted and unescaped. */
  params: Record<string, string>;
}

// RFC 7230 tchar.
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t';

/**
 * Parses every challenge in one or several `WWW-Authenticate` header values (CASES B01, B02).
 * Handles several challenges per header, quoted-strings holding commas, spaces and `\"` escapes,
 * token-form values (`realm=/`, `service=registry.example`, leniently anything up to `,` or space),
 * and optional whitespace around `,` and `=`. Never throws: garbage is skipped.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  if (Array.isArray(header)) return header.flatMap((h) => parseChallenges(h));
  const s = String(header);
  const out: Challenge[] = [];
  let i = 0;
  let current: Challenge | undefined;

  const skipSpaces = (): void => {
    while (isSpace(s[i])) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && TCHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  // Lookahead: does `token OWS =` (not `==`, which is token68 padding) start at position p?
  const paramAt = (p: number): boolean => {
    let j = p;
    while (j < s.length && TCHAR.test(s[j]!)) j++;
    if (j === p) return false;
    while (isSpace(s[j])) j++;
    return s[j] === '=' && s[j + 1] !== '=';
  };
  const readQuoted = (): string => {
    i++; // opening quote
    let v = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++; // quoted-pair: take the next char literally
      v += s[i++];
    }
    i++; // closing quote (or past the end when unterminated)
    return v;
  };
  const readBare = (key: string): string => {
    const start = i;
    for (;;) {
      while (i < s.length && s[i] !== ',' && !isSpace(s[i])) i++;
      // An unquoted scope like `repository:a:pull,push` is not valid syntax, but some servers send it:
      // keep an action after the comma unless it starts the next parameter or the next challenge.
      if (key !== 'scope' || s[i] !== ',') break;
      let j = i + 1;
      while (isSpace(s[j])) j++;
      const k = j;
      while (j < s.length && TCHAR.test(s[j]!)) j++;
      if (j === k || paramAt(k)) break;
      let m = j;
      while (isSpace(s[m])) m++;
      if (m > j && paramAt(m)) break; // `Scheme key=...`
      i = j;
    }
    return s.slice(start, i);
  };

  while (i < s.length) {
    while (i < s.length && (s[i] === ',' || isSpace(s[i]))) i++;
    if (i >= s.length) break;
    if (paramAt(i)) {
      const key = readToken().toLowerCase();
      skipSpaces();
      i++; // '='
      skipSpaces();
      const value = s[i] === '"' ? readQuoted() : readBare(key);
      if (current) current.params[key] = value; // a parameter before any scheme is dropped
      continue;
    }
    const tok = readToken();
    if (!tok) {
      i++; // garbage character: skip
      continue;
    }
    if (current && s[i] === '=') {
      // token68 (`Negotiate abc==`) or a parameter without value: not needed by registries, skip.
      while (s[i] === '=') i++;
      continue;
    }
    current = { scheme: tok.toLowerCase(), params: {} };
    out.push(current);
  }
  return out;
}
