import type { Readable, Writable } from 'node:stream';
import { LadingError } from '../errors/errors.js';
import type { Reference } from '../reference/reference.js';
import { createCredentialProvider } from '../registry/credentials/config.js';
import type { Credential } from '../registry/credentials/types.js';
import type { RateLimit } from '../registry/http/rate-limit.js';
import { DEFAULT_MAX_MANIFEST_SIZE, Registry } from '../registry/registry.js';
import { parseChunkSize } from '../registry/upload.js';
import type { FlagSpec, ParsedArgs } from './args.js';

/** Where the CLI reads and writes: the process by default, buffers in tests. */
export interface CliIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  stdinIsTTY: boolean;
  stderrIsTTY: boolean;
  /** Told every rate limit a registry reports (the Action puts the last one per registry in its summary). */
  onRateLimit?: (registry: string, limit: RateLimit) => void;
}

export const remoteFlags: FlagSpec[] = [
  { long: 'username', short: 'u', type: 'string', value: 'USER', desc: 'registry username' },
  { long: 'password', short: 'p', type: 'string', value: 'PASSWORD', desc: 'registry password or identity token (prefer --password-stdin)' },
  { long: 'password-stdin', type: 'bool', desc: 'read the password or token from stdin' },
  { long: 'identity-token', type: 'string', value: 'TOKEN', desc: 'OAuth2 refresh (identity) token' },
  { long: 'identity-token-stdin', type: 'bool', desc: 'read the identity token from stdin' },
  { long: 'registry-config', type: 'string', value: 'PATH', desc: 'Docker config.json with credentials (default $LADING_REGISTRY_CONFIG, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json)' },
  { long: 'plain-http', type: 'bool', desc: 'use http:// (default true only for localhost; --plain-http=false forces https)' },
  { long: 'insecure', type: 'bool', desc: 'skip TLS certificate verification' },
  { long: 'ca-file', type: 'string', value: 'PATH', desc: 'PEM CA bundle to trust for the registry' },
  { long: 'cert-file', type: 'string', value: 'PATH', desc: 'client certificate (PEM) for mutual TLS' },
  { long: 'key-file', type: 'string', value: 'PATH', desc: 'client key (PEM) for mutual TLS' },
];

/** The remote flags of one side of a copy: `--from-username`, `--to-plain-http`, … as ORAS spells them. */
export function sideFlags(side: 'from' | 'to'): FlagSpec[] {
  const label = side === 'from' ? 'source' : 'destination';
  // Descriptions name this side's flags (--from-password-stdin, --to-plain-http=false), never the shared ones.
  const desc = (d: string) => d.replace(/--(password-stdin|plain-http)/g, `--${side}-$1`);
  return remoteFlags.map((f) => ({ ...f, long: `${side}-${f.long}`, short: undefined, desc: `${label}: ${desc(f.desc)}` }));
}

export const commonFlags: FlagSpec[] = [
  { long: 'debug', short: 'd', type: 'bool', desc: 'print a request trace on stderr (secrets scrubbed)' },
  { long: 'no-tty', type: 'bool', desc: 'plain status lines, no progress redraws' },
  { long: 'help', short: 'h', type: 'bool', desc: 'show help' },
];

/**
 * `--chunk-size` of the commands that upload blobs (push, attach, blob push). copy and blob copy take it for
 * their destination as `--to-chunk-size`, spelled like their other per-side flags (ORAS's `--to-…`).
 */
export const chunkSizeFlag: FlagSpec = {
  long: 'chunk-size',
  type: 'string',
  value: 'SIZE',
  desc: 'upload blobs in PATCH chunks of SIZE (4MiB, 512KiB, 16M, bytes; 64KiB to 1GiB); off: only after a 413. Default: one request per blob, 4 MiB chunks above 1 GiB',
};

export const formatFlag: FlagSpec = { long: 'format', type: 'string', value: 'text|json', desc: 'output format', default: 'text' };
export const manifestSizeFlag: FlagSpec = { long: 'max-manifest-size', type: 'int', value: 'BYTES', desc: 'largest manifest accepted', default: DEFAULT_MAX_MANIFEST_SIZE };

/** Everything a command needs: parsed flags, output helpers, and registries built from the flags. */
export class Context {
  private stdinPassword?: Promise<string>;
  private warnedPassword = false;
  private readonly registries = new Map<string, Registry>();

  constructor(readonly io: CliIO, readonly parsed: ParsedArgs, formats: string[] = ['text', 'json']) {
    const max = parsed.flags['max-manifest-size'];
    if (typeof max === 'number' && max < 1) throw new LadingError('usage', '--max-manifest-size must be at least 1');
    const size = parsed.flags.size;
    if (typeof size === 'number' && size < 0) throw new LadingError('usage', '--size cannot be negative');
    for (const flag of ['chunk-size', 'to-chunk-size']) {
      const raw = this.str(flag);
      // Given but empty (`--chunk-size ""`, an unset shell variable): a mistake, not "the default".
      if (raw !== undefined && raw.trim() === '') throw new LadingError('usage', `invalid --${flag} "": expected a size such as 4MiB, or off`);
      if (raw !== undefined) parseChunkSize(raw, `--${flag}`);
    }
    const format = this.str('format');
    if (format !== undefined && !formats.includes(format)) {
      throw new LadingError('usage', `invalid --format "${format}": expected ${formats.join(' or ')}`);
    }
  }

  str(name: string): string | undefined {
    const v = this.parsed.flags[name];
    return typeof v === 'string' ? v : undefined;
  }
  bool(name: string): boolean {
    return this.parsed.flags[name] === true;
  }
  int(name: string): number | undefined {
    const v = this.parsed.flags[name];
    return typeof v === 'number' ? v : undefined;
  }
  list(name: string): string[] {
    const v = this.parsed.flags[name];
    return Array.isArray(v) ? v : [];
  }
  get json(): boolean {
    return this.str('format') === 'json';
  }

  /** A status line on stderr (never stdout: CASES B34). */
  status(line: string): void {
    this.io.stderr.write(`${line}\n`);
  }
  warn(line: string): void {
    this.io.stderr.write(`Warning: ${line}\n`);
  }
  /** The command's result on stdout: JSON with --format json, else the text. */
  result(text: string | undefined, json: unknown): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    else if (text !== undefined) this.io.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
  }

  /** Reads all of stdin once (for --password-stdin / --identity-token-stdin), trailing newline removed. */
  readStdinSecret(): Promise<string> {
    this.stdinPassword ??= (async () => {
      const chunks: Buffer[] = [];
      for await (const c of this.io.stdin) chunks.push(Buffer.from(c as Buffer));
      return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    })();
    return this.stdinPassword;
  }

  /** The credential given by flags, if any (wins over config.json). */
  async flagCredential(side = ''): Promise<Credential | undefined> {
    const f = (name: string) => `${side}${name}`;
    const username = this.str(f('username'));
    let password = this.str(f('password'));
    let identityToken = this.str(f('identity-token'));
    const fromStdin = [this.bool(f('password-stdin')), this.bool(f('identity-token-stdin')), password !== undefined, identityToken !== undefined].filter(Boolean).length;
    if (fromStdin > 1) throw new LadingError('usage', `give only one of --${f('password')}, --${f('password-stdin')}, --${f('identity-token')} and --${f('identity-token-stdin')}`);
    if (this.bool(f('password-stdin'))) password = await this.readStdinSecret();
    if (this.bool(f('identity-token-stdin'))) identityToken = await this.readStdinSecret();
    if (password !== undefined && this.parsed.given.has(f('password')) && !this.warnedPassword) {
      this.warnedPassword = true;
      this.warn(`Using --${f('password')} via the command line is insecure; use --${f('password-stdin')}.`);
    }
    if (identityToken) return { identityToken };
    if (password !== undefined && password === '') throw new LadingError('usage', 'the password is empty');
    if (username !== undefined && password === undefined) throw new LadingError('usage', side ? `--${f('username')} needs a password: --${f('password-stdin')} or --${f('password')}` : '--username needs a password: --password-stdin or -p');
    if (password !== undefined && !username) throw new LadingError('usage', `a password needs --${f('username')}`);
    return username ? { username, password } : undefined;
  }

  /** The registry client for a reference's host, configured from the flags (one per host per run). */
  /** `side` is a flag prefix (`from-`/`to-` for copy): each side has its own credentials and TLS settings. */
  async registry(ref: Pick<Reference, 'registry' | 'host'>, side = ''): Promise<Registry> {
    const f = (name: string) => `${side}${name}`;
    const key = `${side}${ref.host}`;
    const existing = this.registries.get(key);
    if (existing) return existing;
    const flagCred = await this.flagCredential(side);
    const credentials = createCredentialProvider({
      configPath: this.str(f('registry-config')),
      env: this.io.env,
      warn: (m) => this.warn(m),
      static: flagCred,
    });
    const plainHttp = this.parsed.given.has(f('plain-http')) ? this.bool(f('plain-http')) : undefined;
    const registry = new Registry(ref.registry, ref.host, {
      plainHttp,
      insecure: this.bool(f('insecure')),
      caFile: this.str(f('ca-file')),
      certFile: this.str(f('cert-file')),
      keyFile: this.str(f('key-file')),
      credentials,
      log: (line) => this.status(line),
      debug: this.bool('debug') ? (line) => this.io.stderr.write(`[debug] ${line}\n`) : undefined,
      maxManifestSize: this.int('max-manifest-size'),
      env: this.io.env,
      onRateLimit: this.io.onRateLimit,
      chunkSize: parseChunkSize(this.str(f('chunk-size')) ?? ''),
      timeoutMs: httpTimeoutMs(this.io.env),
    });
    this.registries.set(key, registry);
    return registry;
  }
}

/**
 * LADING_HTTP_TIMEOUT: seconds to wait for response headers and between chunks of a response body before the
 * request is retried as a connection error. Unset or empty: the default (60 s).
 */
export function httpTimeoutMs(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.LADING_HTTP_TIMEOUT?.trim();
  if (raw === undefined || raw === '') return undefined;
  const seconds = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(seconds > 0 && seconds <= 86_400)) {
    throw new LadingError('usage', `invalid LADING_HTTP_TIMEOUT "${raw}": expected a number of seconds greater than 0 and at most 86400`);
  }
  return Math.max(1, Math.round(seconds * 1000));
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}
