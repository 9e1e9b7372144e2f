/**
 * The `registry-auth` input: a small YAML subset, a block list of mappings with three string keys.
 *
 *   - registry: ghcr.io
 *     username: ${{ github.actor }}
 *     password: ${{ secrets.GITHUB_TOKEN }}
 *   - registry: registry.example:5000
 *     username: "ci"
 *     password: 'it''s quoted'
 *
 * Pure (no I/O). Anything outside the subset is an error naming the line, never a guess. Error messages
 * never quote a value: any value may be a password.
 */
export interface RegistryAuthEntry {
  registry: string;
  username: string;
  password: string;
}

export class RegistryAuthError extends Error {}

const KEYS = ['registry', 'username', 'password'] as const;
type Key = (typeof KEYS)[number];

/** Characters a plain YAML scalar cannot start with (they mean something else in YAML). */
const INDICATOR = /^[[\]{}&*!|>%@`]/;

function fail(line: number, why: string): never {
  throw new RegistryAuthError(`input "registry-auth", line ${line}: ${why}`);
}

/** One scalar value: plain (a ` #` starts a comment, as in YAML), 'single' ('' is a quote) or "double" (\\ escapes). */
function scalar(raw: string, line: number, key: string): string {
  const text = raw.trim();
  if (text.startsWith("'")) {
    let out = '';
    let i = 1;
    for (; i < text.length; i++) {
      if (text[i] !== "'") out += text[i];
      else if (text[i + 1] === "'") out += "'", i++;
      else break;
    }
    if (i >= text.length) fail(line, `the value of "${key}" has no closing quote (')`);
    rest(text.slice(i + 1), line, key);
    return out;
  }
  if (text.startsWith('"')) {
    const escapes: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', n: '\n', t: '\t', r: '\r', '0': '\0', ' ': ' ' };
    let out = '';
    let i = 1;
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] !== '\\') {
        out += text[i];
        continue;
      }
      const e = escapes[text[++i]];
      if (e === undefined) fail(line, `the value of "${key}" uses an escape this Action does not read; use single quotes`);
      out += e;
    }
    if (i >= text.length) fail(line, `the value of "${key}" has no closing quote (")`);
    rest(text.slice(i + 1), line, key);
    return out;
  }
  const plain = text.replace(/(^|\s)#.*$/, '').trim();
  if (INDICATOR.test(plain)) fail(line, `the value of "${key}" starts with a YAML indicator character; put it in quotes`);
  if (/:(\s|$)/.test(plain)) fail(line, `the value of "${key}" holds ": "; put it in quotes`);
  return plain;
}

/** After a quoted value only a comment may follow. */
function rest(after: string, line: number, key: string): void {
  if (after.trim() !== '' && !/^\s+#/.test(after)) fail(line, `unexpected text after the quoted value of "${key}"`);
}

/** Parses the input; an empty input is an empty list. */
export function parseRegistryAuth(text: string): RegistryAuthEntry[] {
  const entries: Array<{ line: number; values: Partial<Record<Key, string>> }> = [];
  let itemIndent = -1;
  let keyIndent = -1;
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const raw = lines[n];
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    if (/^\s*\t/.test(raw)) fail(lineNo, 'indent with spaces, not tabs');
    if (raw.trim() === '---') continue;
    const indent = raw.search(/\S/);
    let body = raw.slice(indent);
    let bodyIndent = indent;
    if (body === '-' || body.startsWith('- ')) {
      if (itemIndent >= 0 && indent !== itemIndent) fail(lineNo, 'list items must line up under each other');
      itemIndent = indent;
      entries.push({ line: lineNo, values: {} });
      const after = body.slice(1);
      if (after.trim() === '') {
        keyIndent = -1;
        continue;
      }
      bodyIndent = indent + 1 + after.search(/\S/);
      body = after.trim();
      keyIndent = bodyIndent;
    } else {
      if (entries.length === 0) {
        fail(lineNo, 'expected a list of entries, each starting with "- registry: HOST" (with username and password under it)');
      }
      if (indent <= itemIndent) fail(lineNo, 'expected a new list item ("- ") or a key indented under the current one');
      if (keyIndent < 0) keyIndent = indent;
      else if (indent !== keyIndent) fail(lineNo, 'keys of an entry must line up under each other');
    }
    const m = /^([A-Za-z_-]+)\s*:(?:\s+(.*)|\s*)$/.exec(body);
    if (!m) fail(lineNo, 'expected "key: value" (registry, username or password)');
    const key = m[1] as Key;
    if (!KEYS.includes(key)) fail(lineNo, `unknown key "${m[1].slice(0, 40)}"; an entry has registry, username and password`);
    const entry = entries[entries.length - 1];
    if (entry.values[key] !== undefined) fail(lineNo, `"${key}" given twice in one entry`);
    if (/^[|>]/.test(m[2] ?? '')) fail(lineNo, `block scalars (| or >) are not read here; give "${key}" on one line`);
    const value = m[2] === undefined ? '' : scalar(m[2], lineNo, key);
    entry.values[key] = value;
  }
  const seen = new Set<string>();
  return entries.map(({ line, values }, i) => {
    const what = `entry ${i + 1} (line ${line})`;
    for (const key of KEYS) {
      if (!values[key]) throw new RegistryAuthError(`input "registry-auth", ${what}${values.registry ? ` for ${values.registry}` : ''}: "${key}" is missing or empty`);
    }
    const registry = values.registry!;
    if (seen.has(registry.toLowerCase())) throw new RegistryAuthError(`input "registry-auth": ${registry} is listed twice`);
    seen.add(registry.toLowerCase());
    return { registry, username: values.username!, password: values.password! };
  });
}
