/**
 * Which credentials the Action stores before the command runs, and which it hands the command as flags.
 * Pure: no I/O, no @actions imports; contradictions are InputErrors, raised before any network call.
 */
import { parseReference } from '../reference/reference.js';
import { credentialKey } from '../registry/credentials/config.js';
import { InputError, isTwoSided, type ActionInputs } from './inputs.js';

export const GHCR = 'ghcr.io';
/** The username GitHub documents for a token when no actor is known. */
export const TOKEN_USERNAME = 'x-access-token';

export interface PlannedCredential {
  /** The registry as given. */
  registry: string;
  /** Its config.json key (`ghcr.io`, `https://index.docker.io/v1/` for Docker Hub). */
  key: string;
  username: string;
  password: string;
  /** Where it came from; a `github-token` credential never replaces one already in the config. */
  from: 'inputs' | 'registry-auth' | 'github-token';
}

export interface CredentialPlan {
  /** Stored (in the Action's own config or Docker's) before the command runs; the command reads that config. */
  store: PlannedCredential[];
  /** Given to the command as flags (password on stdin, or per side for copy/convert) instead of stored. */
  flags?: { username: string; password: string };
}

/** The config.json key of a reference's registry (`hostOnly`: HOST[/PATH] as login and repo-ls take); undefined when invalid. */
export function registryKey(ref: string | undefined, hostOnly = false): string | undefined {
  if (!ref) return undefined;
  try {
    return credentialKey(hostOnly ? ref : parseReference(ref).registry);
  } catch {
    return undefined; // the command reports an invalid reference itself, with its usual message
  }
}

const twoSided = (i: ActionInputs) => isTwoSided(i.command);

/** The registries (config keys) the command talks to. */
export function touchedRegistries(i: ActionInputs): string[] {
  if (twoSided(i)) {
    return [i.sourceOciLayout ? undefined : registryKey(i.source), i.destinationOciLayout ? undefined : registryKey(i.destination)].filter((k): k is string => k !== undefined);
  }
  if (['setup', 'version', 'logout'].includes(i.command) || i.ociLayout) return [];
  const key = registryKey(i.reference, i.command === 'login' || i.command === 'repo-ls');
  return key ? [key] : [];
}

/** Whether the command reads ghcr.io credentials from the config (not from flags): then the github-token may fill in. */
function ghcrFromConfig(i: ActionInputs, flags: CredentialPlan['flags']): boolean {
  if (flags) return false;
  if (!twoSided(i)) return touchedRegistries(i).includes(GHCR);
  const sides = [
    [i.source, i.sourceOciLayout, i.sourceUsername],
    [i.destination, i.destinationOciLayout, i.destinationUsername],
  ] as const;
  return sides.some(([ref, layout, user]) => !layout && !user && registryKey(ref) === GHCR);
}

export function planCredentials(i: ActionInputs, env: { GITHUB_ACTOR?: string } = {}): CredentialPlan {
  const store: PlannedCredential[] = [];
  let flags: CredentialPlan['flags'];
  const add = (registry: string, username: string, password: string, from: PlannedCredential['from']) => {
    let key: string;
    try {
      key = credentialKey(registry);
    } catch (err) {
      throw new InputError(`input "${from === 'registry-auth' ? 'registry-auth' : 'registry'}": ${(err as Error).message}`);
    }
    if (store.some((s) => s.key === key)) throw new InputError(`input "registry-auth": ${key} is listed twice`);
    if (username.includes(':')) throw new InputError(`the username for ${key} must not contain ":"`);
    store.push({ registry, key, username, password, from });
  };
  if (i.registryConfig && (i.registry || i.registryAuth.length > 0)) {
    throw new InputError(`input "registry-config" cannot be combined with "${i.registry ? 'registry' : 'registry-auth'}": the Action stores those credentials in a config of its own, and the command reads that one`);
  }
  for (const e of i.registryAuth) add(e.registry, e.username, e.password, 'registry-auth');
  if (i.username !== undefined && i.password !== undefined) {
    const key = touchedRegistries(i)[0];
    if (i.registry) add(i.registry, i.username, i.password, 'inputs');
    // copy/convert (both sides), a layout, or an explicit registry-config: flags for this command only, as before.
    else if (twoSided(i) || i.ociLayout || i.registryConfig || (i.command !== 'setup' && i.command !== 'version' && !key)) flags = { username: i.username, password: i.password };
    else if (!key) throw new InputError(`command "${i.command}" has no reference: give "registry" with "username" and "password" to store credentials for later steps`);
    else add(key, i.username, i.password, 'inputs');
  }
  if (i.githubToken && !i.registryConfig && !store.some((s) => s.key === GHCR) && ghcrFromConfig(i, flags)) {
    add(GHCR, env.GITHUB_ACTOR || TOKEN_USERNAME, i.githubToken, 'github-token');
  }
  if (i.command === 'login' && !flags) {
    const key = registryKey(i.reference, true);
    const cred = store.find((s) => s.key === key);
    if (!cred) {
      throw new InputError(`command "login" needs credentials for ${key ?? i.reference}: "username" and "password", an entry in "registry-auth", or for ghcr.io the "github-token"`);
    }
    flags = { username: cred.username, password: cred.password };
  }
  return flags ? { store, flags } : { store };
}

/** The inputs the command runs with: the planned flag credentials only, and the config the credentials went into. */
export function commandInputs(i: ActionInputs, plan: CredentialPlan, configFile?: string): ActionInputs {
  return { ...i, username: plan.flags?.username, password: plan.flags?.password, registryConfig: configFile ?? i.registryConfig };
}

/** Every secret the plan handles: to register with the runner before anything is printed. */
export function planSecrets(i: ActionInputs, plan: CredentialPlan): string[] {
  const all = [i.password, i.sourcePassword, i.destinationPassword, plan.flags?.password, ...plan.store.map((s) => s.password)];
  return [...new Set(all.filter((s): s is string => typeof s === 'string' && s !== ''))];
}
