import { LadingError } from '../errors/errors.js';

/**
 * A small POSIX/pflag-style parser, so ORAS users' command lines work unchanged: `--flag value`,
 * `--flag=value`, `-f value`, `-fvalue`, grouped short booleans (`-dv`), `--bool=false`, repeated list
 * flags, and `--` to end flags. Unknown flags are usage errors (exit 2).
 */
export type FlagType = 'bool' | 'string' | 'list' | 'int';

export interface FlagSpec {
  long: string;
  short?: string;
  type: FlagType;
  /** Placeholder in help, e.g. FILE. */
  value?: string;
  desc: string;
  default?: string | boolean | number;
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | number | string[] | undefined>;
  /** Names of the flags given explicitly on the command line. */
  given: Set<string>;
  args: string[];
}

export function parseArgs(argv: string[], specs: FlagSpec[]): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.long, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags: ParsedArgs['flags'] = {};
  const given = new Set<string>();
  const args: string[] = [];
  for (const s of specs) {
    if (s.type === 'list') flags[s.long] = [];
    else if (s.default !== undefined) flags[s.long] = s.default;
    else if (s.type === 'bool') flags[s.long] = false;
  }

  const set = (spec: FlagSpec, raw: string | undefined, shown: string) => {
    given.add(spec.long);
    switch (spec.type) {
      case 'bool': {
        if (raw === undefined || raw === 'true' || raw === '1') flags[spec.long] = true;
        else if (raw === 'false' || raw === '0') flags[spec.long] = false;
        else throw new LadingError('usage', `invalid value "${raw}" for ${shown}: expected true or false`);
        return;
      }
      case 'int': {
        if (raw === undefined || !/^-?\d+$/.test(raw)) throw new LadingError('usage', `invalid value "${raw ?? ''}" for ${shown}: expected an integer`);
        flags[spec.long] = Number(raw);
        return;
      }
      case 'list':
        (flags[spec.long] as string[]).push(raw ?? '');
        return;
      default:
        flags[spec.long] = raw ?? '';
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const spec = byLong.get(name);
      if (!spec) throw unknownFlag(`--${name}`, specs);
      let value: string | undefined = eq >= 0 ? a.slice(eq + 1) : undefined;
      if (value === undefined && spec.type !== 'bool') {
        if (i + 1 >= argv.length) throw new LadingError('usage', `flag --${name} needs a value`);
        value = argv[++i];
      }
      set(spec, value, `--${name}`);
      continue;
    }
    if (a.startsWith('-') && a.length > 1 && a !== '-') {
      // -abc: booleans grouped; the first non-boolean takes the rest (or the next argument) as its value.
      for (let j = 1; j < a.length; j++) {
        const spec = byShort.get(a[j]);
        if (!spec) throw unknownFlag(`-${a[j]}`, specs);
        if (spec.type === 'bool') {
          if (a[j + 1] === '=') {
            set(spec, a.slice(j + 2), `-${a[j]}`);
            break;
          }
          set(spec, undefined, `-${a[j]}`);
          continue;
        }
        let value = a.slice(j + 1);
        if (value.startsWith('=')) value = value.slice(1);
        else if (value === '') {
          if (i + 1 >= argv.length) throw new LadingError('usage', `flag -${a[j]} needs a value`);
          value = argv[++i];
        }
        set(spec, value, `-${a[j]}`);
        break;
      }
      continue;
    }
    args.push(a);
  }
  return { flags, given, args };
}

function unknownFlag(flag: string, specs: FlagSpec[]): LadingError {
  const name = flag.replace(/^-+/, '');
  // A one-sided flag on a two-sided command (copy: --chunk-size → --to-chunk-size) first, then a near spelling.
  const close =
    specs.find((s) => s.long === `to-${name}`) ?? specs.find((s) => s.long === `from-${name}`) ?? specs.find((s) => s.long.startsWith(name) || name.startsWith(s.long));
  return new LadingError('usage', `unknown flag: ${flag}${close ? ` (did you mean --${close.long}?)` : ''}`);
}

export function flagHelp(specs: FlagSpec[]): string {
  const rows = specs.map((s) => {
    const left = `${s.short ? `-${s.short}, ` : '    '}--${s.long}${s.type === 'bool' ? '' : ` ${s.value ?? (s.type === 'int' ? 'N' : 'VALUE')}`}`;
    const def = s.default !== undefined && s.default !== false && s.default !== '' ? ` (default ${s.default})` : '';
    return [left, `${s.desc}${def}${s.type === 'list' ? ' (repeatable)' : ''}`];
  });
  const width = Math.min(38, Math.max(...rows.map(([l]) => l.length)) + 2);
  return rows.map(([l, r]) => `  ${l.length >= width ? `${l}  ` : l.padEnd(width)}${r}`).join('\n');
}
