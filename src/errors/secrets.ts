import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The secrets in play, in one place (like @actions/core's `setSecret`), and the one scrubber that removes them
 * in every form a server may echo them in from a message or a --debug/log line before it is printed.
 *
 * Who registers: the CLI its password and token flags; the auth layer every credential it uses (password,
 * identity/refresh token, registry token, the Basic value) and every token a token server hands out.
 * Where they go: `addSecret` registers for the current CLI run (`withSecretScope`, one per `main()`: concurrent
 * or successive runs in one process never scrub each other's words) or, outside any run, for the whole process.
 * A registry client keeps the secrets of its own credentials in its own SecretSet, which forwards them to the run
 * it was created in; outside a run they stay with that client (a library's long-lived process does not collect
 * every short-lived token of every client it ever made).
 */

/** Shorter values are never scrubbed: `***` for every `a` or `ab` would make messages unreadable. */
export const MIN_SECRET_LENGTH = 3;

const MASK = '***';

/**
 * The forms a secret can come back in: raw; percent-encoded as by encodeURIComponent, encodeURI and
 * application/x-www-form-urlencoded (`+` for spaces, as in a token request's body), each also with lower-case
 * hex; and escaped inside a JSON string (with `\/` too).
 */
export function secretForms(secret: string): string[] {
  if (secret.length < MIN_SECRET_LENGTH) return [];
  const encoded = [encodeURIComponent(secret), encodeURI(secret), new URLSearchParams([['s', secret]]).toString().slice(2)];
  const json = JSON.stringify(secret).slice(1, -1);
  const all = [secret, ...encoded, ...encoded.map((e) => e.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())), json, json.replace(/\//g, '\\/')];
  return [...new Set(all)].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

/** A set of secrets (each kept in all its forms); what is added is added to `forward` too. */
export class SecretSet {
  private readonly forms = new Set<string>();

  constructor(private readonly forward?: SecretSet) {}

  /** Registers a secret (ignored when undefined, empty or shorter than MIN_SECRET_LENGTH). */
  add(secret: string | undefined | null): void {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) return;
    for (const form of secretForms(secret)) this.forms.add(form);
    this.forward?.add(secret);
  }

  /** Every form of every secret of this set and of the sets it forwards to. */
  collect(into: Set<string>): void {
    for (const f of this.forms) into.add(f);
    this.forward?.collect(into);
  }

  clear(): void {
    this.forms.clear();
  }
}

/** Secrets of the whole process (registered outside any CLI run). */
const processSecrets = new SecretSet();
const scope = new AsyncLocalStorage<SecretSet>();

/** Runs `fn` as one run with its own secrets (the CLI's `main`): what is registered during it is scrubbed during it. */
export function withSecretScope<T>(fn: () => T): T {
  return scope.run(new SecretSet(), fn);
}

/** The current run's secrets, if inside one: a registry client forwards its secrets there. */
export function currentSecretScope(): SecretSet | undefined {
  return scope.getStore();
}

/** Registers a secret for the current run, or for the process outside any run. */
export function addSecret(secret: string | undefined | null): void {
  (scope.getStore() ?? processSecrets).add(secret);
}

/** Forgets the secrets registered for the process (tests). */
export function clearSecrets(): void {
  processSecrets.clear();
}

/**
 * The text with every secret known here replaced by `***`, in each of its forms: the process's, the current
 * run's, those of `sets` (a client's own) and the plain values of `extra`; and the value of any
 * `Authorization: Basic|Bearer …` it quotes hidden.
 */
export function scrubSecrets(text: string, sets: Array<SecretSet | undefined> = [], extra: Array<string | undefined> = []): string {
  const forms = new Set<string>();
  processSecrets.collect(forms);
  scope.getStore()?.collect(forms);
  for (const set of sets) set?.collect(forms);
  for (const s of extra) if (typeof s === 'string') for (const f of secretForms(s)) forms.add(f);
  // Longest first, so that a secret inside a longer one never leaves a piece of the longer one behind.
  let out = text;
  for (const s of [...forms].sort((a, b) => b.length - a.length)) if (out.includes(s)) out = out.split(s).join(MASK);
  return out.replace(/(authorization:\s*)(basic|bearer)\s+\S+/gi, `$1$2 ${MASK}`);
}
