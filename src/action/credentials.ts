/**
 * Storing the planned credentials before the command runs, and putting everything back in the post step.
 *
 * Each write is recorded (file, key, the value the key had before, a hash of what was written) and the
 * records are handed to `save` after every write, so the post step can undo exactly those writes even if
 * the main step dies half-way. No @actions imports: the caller passes logging and state saving in.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configFilePath, LADING_REGISTRY_CONFIG, readConfigEntry, readCredential, restoreConfigEntry, storeCredential } from '../registry/credentials/config.js';
import type { PlannedCredential } from './plan.js';

/** One write the main step made, as saved in the Action state. */
export interface StoreRecord {
  file: string;
  key: string;
  /** The key lives in this credential helper (named by the Docker config), not in `auths`. */
  helper?: string;
  /** What the key held before (raw `auths` entry or the helper's `{ Username, Secret }`); null: nothing. */
  previous: unknown;
  /** sha256 of the `auths` entry written: the post step leaves the key alone if it holds something else by then. */
  wrote?: string;
  /** The file did not exist before this write. */
  createdFile: boolean;
  /** The file is the Action's own config for the job (deleted by the post step once empty). */
  isolated: boolean;
}

export interface Log {
  info(message: string): void;
  warning(message: string): void;
}

export interface StoreOptions extends Log {
  /** Store in the user's Docker config (docker-config: true) instead of the Action's own config. */
  dockerConfig: boolean;
  env: NodeJS.ProcessEnv;
  /** Receives every record so far, after each write (the Action saves them as state). */
  save(records: StoreRecord[]): void;
}

export interface Stored {
  /** The config the credentials are in: the command runs with it. */
  file: string;
  /** It is the Action's own config (exported as LADING_REGISTRY_CONFIG for later steps). */
  isolated: boolean;
  records: StoreRecord[];
}

/** The Action's own config for the job: `$RUNNER_TEMP/lading/config.json`. */
export function isolatedConfigFile(env: NodeJS.ProcessEnv): string {
  return path.join(env.RUNNER_TEMP || os.tmpdir(), 'lading', 'config.json');
}

/** The config docker itself reads: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json` (never LADING_REGISTRY_CONFIG). */
export function dockerConfigFile(env: NodeJS.ProcessEnv): string {
  return configFilePath({ env: { ...env, [LADING_REGISTRY_CONFIG]: undefined } });
}

const digestOf = (value: unknown): string => createHash('sha256').update(value === undefined ? '' : JSON.stringify(value)).digest('hex');

/** A credential helper named by Docker's config could not be run: the step carries on with the Action's own config. */
class HelperUnavailable extends Error {}

async function storeAll(entries: PlannedCredential[], file: string, isolated: boolean, o: StoreOptions, records: StoreRecord[]): Promise<void> {
  const configOpts = { configPath: file, env: o.env, warn: (m: string) => o.warning(m) };
  for (const entry of entries) {
    let helper: string | undefined;
    try {
      if (entry.from === 'github-token') {
        // The default token never replaces a credential already there (any spelling of the host, or its helper).
        let helperFailed = false;
        const existing = await readCredential(entry.key, { ...configOpts, warn: () => void (helperFailed = true) });
        if (existing && !helperFailed) {
          o.info(`${entry.key}: keeping the credentials already in ${file} (github-token not used)`);
          continue;
        }
      }
      const before = await readConfigEntry(entry.key, configOpts).catch((err: Error) => {
        throw new HelperUnavailable(err.message);
      });
      helper = before.helper;
      await storeCredential(entry.key, { username: entry.username, password: entry.password }, configOpts);
      const after = helper ? undefined : await readConfigEntry(entry.key, configOpts);
      records.push({
        file,
        key: entry.key,
        ...(helper ? { helper } : { wrote: digestOf(after?.value) }),
        previous: before.value ?? null,
        createdFile: !before.exists,
        isolated,
      });
      o.save(records);
      o.info(`${entry.key}: credentials stored in ${file}${helper ? ` (through docker-credential-${helper})` : ''}`);
    } catch (err) {
      if (err instanceof HelperUnavailable || helper) throw new HelperUnavailable((err as Error).message);
      throw err;
    }
  }
}

/**
 * Stores the credentials. With docker-config, a credential helper in Docker's config that cannot be run
 * is a warning (CASES B11): what was written there is put back and the Action's own config is used instead.
 */
export async function storeCredentials(entries: PlannedCredential[], o: StoreOptions): Promise<Stored> {
  const records: StoreRecord[] = [];
  const isolatedFile = isolatedConfigFile(o.env);
  if (o.dockerConfig) {
    const file = dockerConfigFile(o.env);
    try {
      await storeAll(entries, file, false, o, records);
      return { file, isolated: false, records };
    } catch (err) {
      if (!(err instanceof HelperUnavailable)) throw err;
      o.warning(`${err.message}; docker-config: the credentials go into this job's own config instead (docker will not see them)`);
      await restoreCredentials(records.splice(0), o);
      o.save(records);
    }
  }
  await storeAll(entries, isolatedFile, true, o, records);
  return { file: isolatedFile, isolated: true, records };
}

/** The file holds no keys but (possibly) an empty `auths`; false when it is missing or unreadable. */
async function isEmptyConfig(file: string): Promise<boolean> {
  const text = await fsp.readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return false;
  if (text.trim() === '') return true;
  try {
    const config = JSON.parse(text.replace(/^\uFEFF/, '')) as Record<string, unknown>;
    const auths = config.auths;
    return Object.keys(config).every((k) => k === 'auths' && typeof auths === 'object' && auths !== null && Object.keys(auths).length === 0);
  } catch {
    return false;
  }
}

const exists = (file: string) =>
  fsp.stat(file).then(
    () => true,
    () => false,
  );

/**
 * The post step: undoes the records, newest first. A key is put back only if it still holds what this
 * Action wrote; a file that is gone is left gone; the Action's own config (or a file this Action created)
 * is deleted once nothing is left in it. Safe to run twice. Failures are warnings: cleanup never fails a job.
 */
export async function restoreCredentials(records: StoreRecord[], o: Log & { env: NodeJS.ProcessEnv }): Promise<void> {
  const files = new Map<string, { deletable: boolean }>();
  for (const r of [...records].reverse()) {
    try {
      if (!r.helper && !(await exists(r.file))) {
        o.info(`${r.file} is gone: nothing to remove for ${r.key}`);
        continue;
      }
      const configOpts = { configPath: r.file, env: o.env, warn: (m: string) => o.warning(m) };
      const previous = r.previous === null ? undefined : r.previous;
      if (!r.helper) {
        const now = await readConfigEntry(r.key, configOpts);
        if (digestOf(now.value) !== r.wrote) {
          o.info(`${r.key} in ${r.file} no longer holds what this step stored: left as it is`);
          files.set(r.file, { deletable: r.isolated || r.createdFile || files.get(r.file)?.deletable === true });
          continue;
        }
      }
      await restoreConfigEntry(r.key, previous, { ...configOpts, helper: r.helper });
      o.info(`${r.key}: ${previous === undefined ? 'removed from' : 'previous credentials put back in'} ${r.file}`);
      files.set(r.file, { deletable: r.isolated || r.createdFile || files.get(r.file)?.deletable === true });
    } catch (err) {
      o.warning(`could not put back ${r.key} in ${r.file}: ${(err as Error).message}`);
    }
  }
  for (const [file, { deletable }] of files) {
    if (!deletable) continue;
    try {
      if (!(await isEmptyConfig(file))) continue;
      await fsp.rm(file, { force: true });
      o.info(`${file} removed (nothing left in it)`);
      if (records.some((r) => r.isolated && r.file === file)) await fsp.rmdir(path.dirname(file)).catch(() => undefined);
    } catch (err) {
      o.warning(`could not remove ${file}: ${(err as Error).message}`);
    }
  }
}
