import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LadingError } from '../../errors/errors.js';
import { DOCKER_HUB, isDockerHub, normalizeRegistry } from '../../reference/reference.js';
import type { Credential, CredentialProvider } from './types.js';

/**
 * Docker's config.json (`auths`, `credHelpers`, `credsStore`) and the docker-credential-* helper
 * protocol, for reading (every verb), storing (`login`) and erasing (`logout`). CASES B08, B10, B11.
 */

/** The key Docker reads Docker Hub credentials from, whatever spelling was used at login (B08). */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const HELPER_TIMEOUT_MS = 60_000;
const NOT_FOUND_RE = /credentials not found/i;

/**
 * Environment variable naming a config.json file (not a folder) read when no `--registry-config` is given,
 * before `DOCKER_CONFIG`. The GitHub Action exports it for later steps when it keeps the credentials it was
 * given in a config of its own for the job (its default), so `lading` in a later `run:` step finds them.
 */
export const LADING_REGISTRY_CONFIG = 'LADING_REGISTRY_CONFIG';

export interface ConfigOptions {
  /**
   * Explicit config.json (`--registry-config`); else the file `$LADING_REGISTRY_CONFIG`, else
   * `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
   */
  configPath?: string;
  /** Home directory used for `~/.docker` (default `os.homedir()`). */
  homeDir?: string;
  /** Environment for `DOCKER_CONFIG` and for running helpers (their lookup uses `env.PATH`); default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Receives warnings (never containing secrets); default: stderr. */
  warn?: (msg: string) => void;
}

export interface ProviderOptions extends ConfigOptions {
  /** Credential from flags (-u/-p): wins over the config file for every registry. */
  static?: Credential;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const defaultWarn = (msg: string): void => void process.stderr.write(`warning: ${msg}\n`);

export function configFilePath(o: ConfigOptions = {}): string {
  if (o.configPath) return path.resolve(o.configPath);
  const ladingConfig = (o.env ?? process.env)[LADING_REGISTRY_CONFIG];
  if (ladingConfig) return path.resolve(ladingConfig);
  const dockerConfig = (o.env ?? process.env).DOCKER_CONFIG;
  if (dockerConfig) return path.join(dockerConfig, 'config.json');
  return path.join(o.homeDir ?? os.homedir(), '.docker', 'config.json');
}

/** Splits a config key or user input (`https://Host:5000/path/`) into host and path; never throws. */
function splitKey(key: string): { rawHost: string; host: string; path: string } {
  const rest = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = rest.indexOf('/');
  const rawHost = slash < 0 ? rest : rest.slice(0, slash);
  const host = rawHost.toLowerCase();
  return { rawHost, host: isDockerHub(host) ? DOCKER_HUB : host, path: slash < 0 ? '' : rest.slice(slash + 1) };
}

/**
 * The config.json key (and helper ServerURL) for a registry as typed by a user: every Docker Hub spelling
 * → `https://index.docker.io/v1/`; otherwise the lower-case host[:port], scheme and path dropped (a path
 * other than `/v1/` or `/v2/` is reported through `warn`). Throws 'usage' for an invalid host.
 */
export function credentialKey(registry: string, warn?: (msg: string) => void): string {
  const { rawHost, path: p } = splitKey(registry);
  if (rawHost.includes('@')) throw new LadingError('usage', 'invalid registry: leave user information out of the registry name');
  const name = normalizeRegistry(rawHost);
  const key = name === DOCKER_HUB ? DOCKER_HUB_KEY : name;
  const trimmed = p.replace(/^\/+|\/+$/g, '');
  if (trimmed && !/^v[12]$/.test(trimmed)) {
    warn?.(`credentials are kept per registry host: using "${key}" for "${registry}" (path "/${trimmed}" dropped)`);
  }
  return key;
}

/** Keys of `map` that name the same host as `registry`, the canonical key first. */
function matchingKeys(map: Obj, registry: string): string[] {
  const target = splitKey(registry).host;
  const exact = target === DOCKER_HUB ? DOCKER_HUB_KEY : target;
  return Object.keys(map)
    .filter((k) => splitKey(k).host === target)
    .sort((a, b) => Number(b === exact) - Number(a === exact));
}

/** Server URL given to helpers: `https://index.docker.io/v1/` for Docker Hub, else the host. */
const serverUrl = (registry: string): string => {
  const host = splitKey(registry).host;
  return host === DOCKER_HUB ? DOCKER_HUB_KEY : host;
};

async function readConfig(file: string): Promise<Obj> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return {};
    throw new LadingError('usage', `cannot read registry config ${file}: ${(err as Error).message}`, { cause: err });
  }
  text = text.replace(/^\uFEFF/, '');
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse messages quote the file's text, which may hold secrets: leave them out.
    throw new LadingError('usage', `registry config ${file} is not valid JSON`);
  }
  if (!isObj(parsed)) throw new LadingError('usage', `registry config ${file} must hold a JSON object`);
  return parsed;
}

/** Writes config.json atomically (temp file + rename in the same directory), 0600 when created. */
async function writeConfig(file: string, config: Obj): Promise<void> {
  const target = await fsp.realpath(file).catch(() => file);
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const mode = await fsp.stat(target).then((s) => s.mode & 0o777, () => 0o600);
    await fsp.writeFile(tmp, `${JSON.stringify(config, null, '\t')}\n`, { mode, flag: 'wx' });
    await fsp.chmod(tmp, mode);
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw new LadingError('internal', `cannot write registry config ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function entryCredential(entry: unknown, key: string, file: string, warn: (msg: string) => void): Credential | undefined {
  if (!isObj(entry)) return undefined;
  const cred: Credential = { username: str(entry.username), password: str(entry.password) };
  const auth = str(entry.auth);
  if (auth) {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) warn(`ignoring the "auth" of "${key}" in ${file}: it is not base64 of user:password`);
    else [cred.username, cred.password] = [str(decoded.slice(0, colon)), str(decoded.slice(colon + 1))];
  }
  cred.identityToken = str(entry.identitytoken);
  cred.registryToken = str(entry.registrytoken);
  return compact(cred);
}

/** Drops empty fields; undefined when nothing usable as a secret remains. */
function compact(cred: Credential): Credential | undefined {
  const out = Object.fromEntries(Object.entries(cred).filter(([, v]) => typeof v === 'string' && v !== '')) as Credential;
  return out.password || out.identityToken || out.registryToken ? out : undefined;
}

/** The helper named for a registry: `credHelpers[host]` wins over `credsStore`. */
function helperFor(config: Obj, registry: string): string | undefined {
  const helpers = isObj(config.credHelpers) ? config.credHelpers : {};
  const key = matchingKeys(helpers, registry)[0];
  const name = key !== undefined ? helpers[key] : config.credsStore;
  return typeof name === 'string' && name.trim() !== '' ? name.trim() : undefined;
}

interface HelperResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runHelper(program: string, action: string, input: string, env: NodeJS.ProcessEnv): Promise<HelperResult> {
  return new Promise((resolve, reject) => {
    // No shell: the program is looked up on env.PATH and the secret goes on stdin, never in argv.
    const child = spawn(program, [action], { env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`no answer after ${HELPER_TIMEOUT_MS / 1000}s`));
    }, HELPER_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // EPIPE when the helper exits without reading
    child.stdin.end(input);
  });
}

/**
 * Runs `docker-credential-<name> <action>`; returns its stdout, or undefined when the helper reports
 * "credentials not found" (get/erase). Any other failure is a LadingError naming the helper.
 */
async function callHelper(name: string, action: 'get' | 'store' | 'erase', input: string, env: NodeJS.ProcessEnv, secret?: string): Promise<string | undefined> {
  const program = `docker-credential-${name}`;
  const fail = (why: string, cause?: unknown): LadingError =>
    new LadingError('internal', `credential helper ${program} could not be run: ${why}`, { cause });
  let r: HelperResult;
  try {
    r = await runHelper(program, action, input, env);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw fail(e.code === 'ENOENT' ? 'not found on PATH' : e.message, err);
  }
  if (r.code === 0) return r.stdout;
  const out = (r.stdout.trim() || r.stderr.trim()).split('\n')[0].slice(0, 200);
  if (action !== 'store' && NOT_FOUND_RE.test(out)) return undefined;
  // A failing helper may still have printed a secret: show its output only when it looks like a plain message.
  const looksSecret = /secret|password|token|"Username"|\{/i.test(out);
  const shown = looksSecret ? '(output not shown: it may hold a secret)' : secret ? out.split(secret).join('***') : out;
  throw fail(`"${action}" ${r.code === null ? `killed by ${r.signal}` : `exited with ${r.code}`}${shown ? `: ${shown}` : ''}`);
}

async function helperGet(name: string, registry: string, env: NodeJS.ProcessEnv, warn: (msg: string) => void): Promise<Credential | undefined> {
  try {
    const stdout = await callHelper(name, 'get', serverUrl(registry), env);
    if (stdout === undefined) return undefined;
    let out: unknown;
    try {
      out = JSON.parse(stdout);
    } catch {
      throw new LadingError('internal', `credential helper docker-credential-${name} could not be run: "get" printed no JSON`);
    }
    const secret = isObj(out) ? str(out.Secret) : undefined;
    if (!isObj(out) || !secret) return undefined;
    // B10: Username "<token>" marks Secret as an identity (refresh) token, never a Basic password.
    return out.Username === '<token>' ? { identityToken: secret } : compact({ username: str(out.Username), password: secret });
  } catch (err) {
    // B11a: reading never fails because of a helper; carry on anonymously.
    warn(`${(err as Error).message}; continuing without credentials`);
    return undefined;
  }
}

/** The credential config.json (or its helper) holds for `registry`; undefined when there is none. */
export async function readCredential(registry: string, o: ConfigOptions = {}): Promise<Credential | undefined> {
  const warn = o.warn ?? defaultWarn;
  const file = configFilePath(o);
  const config = await readConfig(file);
  const helper = helperFor(config, registry);
  if (helper) return helperGet(helper, registry, o.env ?? process.env, warn);
  const auths = isObj(config.auths) ? config.auths : {};
  for (const key of matchingKeys(auths, registry)) {
    const cred = entryCredential(auths[key], key, file, warn);
    if (cred) return cred;
  }
  return undefined;
}

export function createCredentialProvider(o: ProviderOptions = {}): CredentialProvider {
  const fixed = o.static && Object.values(o.static).some((v) => v !== undefined && v !== '') ? { ...o.static } : undefined;
  const cache = new Map<string, Promise<Credential | undefined>>();
  return (registry) => {
    if (fixed) return Promise.resolve({ ...fixed });
    const host = splitKey(registry).host;
    let found = cache.get(host);
    if (!found) cache.set(host, (found = readCredential(host, o)));
    return found;
  };
}

/**
 * `login`: stores the credential through the registry's helper, else in `auths` (other keys and entries
 * kept). Returns the key used. A helper that cannot be run is a hard error here (B11).
 */
export async function storeCredential(registry: string, cred: Credential, o: ConfigOptions = {}): Promise<string> {
  const key = credentialKey(registry, o.warn ?? defaultWarn);
  if (cred.username?.includes(':')) throw new LadingError('usage', 'the username must not contain ":"');
  if (!cred.identityToken && !cred.registryToken && !cred.password) {
    throw new LadingError('usage', `no password or token to store for ${key}`);
  }
  const file = configFilePath(o);
  const config = await readConfig(file);
  const helper = helperFor(config, key);
  if (helper) {
    if (!cred.identityToken && !cred.password) throw new LadingError('usage', `credential helper docker-credential-${helper} cannot store a registry token`);
    const [Username, Secret] = cred.identityToken ? ['<token>', cred.identityToken] : [cred.username ?? '', cred.password ?? ''];
    await callHelper(helper, 'store', JSON.stringify({ ServerURL: key, Username, Secret }), o.env ?? process.env, Secret);
    return key;
  }
  const entry = cred.identityToken
    ? { identitytoken: cred.identityToken }
    : cred.password
      ? { auth: Buffer.from(`${cred.username ?? ''}:${cred.password}`, 'utf8').toString('base64') }
      : { registrytoken: cred.registryToken };
  config.auths = { ...(isObj(config.auths) ? config.auths : {}), [key]: entry };
  await writeConfig(file, config);
  return key;
}

/** `logout`: erases through the helper and drops every `auths` spelling of the host; 'not-found' when not logged in. */
export async function removeCredential(registry: string, o: ConfigOptions = {}): Promise<void> {
  const key = credentialKey(registry, o.warn ?? defaultWarn);
  const file = configFilePath(o);
  const config = await readConfig(file);
  const helper = helperFor(config, key);
  const erased = helper ? (await callHelper(helper, 'erase', key, o.env ?? process.env)) !== undefined : false;
  const auths = isObj(config.auths) ? config.auths : {};
  const keys = matchingKeys(auths, key);
  if (keys.length > 0) {
    for (const k of keys) delete auths[k];
    await writeConfig(file, config);
  } else if (!erased) {
    throw new LadingError('not-found', `not logged in to ${splitKey(key).host}`);
  }
}

/** What a config holds under exactly one key, for a caller that puts it back later (the GitHub Action's post step). */
export interface ConfigEntry {
  /** The file exists. */
  exists: boolean;
  /** The credential helper the config names for the key: the value then lives in the helper. */
  helper?: string;
  /** The raw `auths[key]` value, or the helper's `{ Username, Secret }`; undefined when there is none. */
  value?: unknown;
}

/** Reads `auths[key]` as it is (or asks the key's helper); a helper that cannot be run throws. */
export async function readConfigEntry(key: string, o: ConfigOptions = {}): Promise<ConfigEntry> {
  const file = configFilePath(o);
  const exists = await fsp.stat(file).then(
    () => true,
    () => false,
  );
  const config = await readConfig(file);
  const helper = helperFor(config, key);
  if (helper) {
    const out = await callHelper(helper, 'get', serverUrl(key), o.env ?? process.env);
    if (out === undefined) return { exists, helper };
    let value: unknown;
    try {
      value = JSON.parse(out);
    } catch {
      throw new LadingError('internal', `credential helper docker-credential-${helper} could not be run: "get" printed no JSON`);
    }
    return { exists, helper, value: isObj(value) ? { Username: value.Username, Secret: value.Secret } : undefined };
  }
  const auths = isObj(config.auths) ? config.auths : {};
  return { exists, value: Object.hasOwn(auths, key) ? auths[key] : undefined };
}

/**
 * Puts back what readConfigEntry returned: sets `auths[key]` to `value`, or deletes exactly that key when
 * `value` is undefined (other spellings of the host and every other entry are left alone). With `helper`,
 * stores the value through that helper or erases it there instead.
 */
export async function restoreConfigEntry(key: string, value: unknown, o: ConfigOptions & { helper?: string } = {}): Promise<void> {
  const env = o.env ?? process.env;
  if (o.helper) {
    if (value === undefined) await callHelper(o.helper, 'erase', serverUrl(key), env);
    else {
      const v = isObj(value) ? value : {};
      const secret = typeof v.Secret === 'string' ? v.Secret : '';
      await callHelper(o.helper, 'store', JSON.stringify({ ServerURL: serverUrl(key), Username: typeof v.Username === 'string' ? v.Username : '', Secret: secret }), env, secret);
    }
    return;
  }
  const file = configFilePath(o);
  const config = await readConfig(file);
  const auths = isObj(config.auths) ? { ...config.auths } : {};
  if (value === undefined) {
    if (!Object.hasOwn(auths, key)) return;
    delete auths[key];
  } else auths[key] = value;
  config.auths = auths;
  await writeConfig(file, config);
}
