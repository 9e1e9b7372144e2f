import { createInterface } from 'node:readline';
import { LadingError } from '../../errors/errors.js';
import { DOCKER_HUB_HOST, normalizeRegistry } from '../../reference/reference.js';
import { removeCredential, storeCredential } from '../../registry/credentials/config.js';
import type { Credential } from '../../registry/credentials/types.js';
import { Registry } from '../../registry/registry.js';
import type { Command } from '../command.js';
import { commonFlags, formatFlag, remoteFlags, type Context } from '../context.js';

/** `https://ghcr.io/`, `registry.example/team/app`, `docker.io` → registry name and host (CASES B08). */
export function parseRegistryArg(input: string | undefined): { registry: string; host: string; droppedPath: boolean } {
  if (!input) throw new LadingError('usage', 'missing registry');
  let s = input.trim().replace(/^https?:\/\//i, '');
  const slash = s.indexOf('/');
  const path = slash >= 0 ? s.slice(slash + 1).replace(/\/+$/, '') : '';
  if (slash >= 0) s = s.slice(0, slash);
  const registry = normalizeRegistry(s);
  const droppedPath = path !== '' && !/^v[12]$/.test(path);
  return { registry, host: registry === 'docker.io' ? DOCKER_HUB_HOST : registry, droppedPath };
}

async function prompt(ctx: Context, question: string, hidden: boolean): Promise<string> {
  const rl = createInterface({ input: ctx.io.stdin, output: ctx.io.stderr, terminal: true });
  if (hidden) {
    const rlAny = rl as unknown as { _writeToOutput: (s: string) => void };
    rlAny._writeToOutput = (s: string) => {
      if (s.includes(question)) ctx.io.stderr.write(s);
    };
  }
  const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
  rl.close();
  if (hidden) ctx.io.stderr.write('\n');
  return answer;
}

const login: Command = {
  name: 'login',
  summary: 'Log in to a registry (stored in Docker config.json or its credential helper)',
  usage: 'REGISTRY',
  args: [1, 1],
  flags: [formatFlag, ...remoteFlags, ...commonFlags],
  examples: ['echo "$TOKEN" | lading login ghcr.io -u octocat --password-stdin', 'lading login localhost:5000 -u admin -p secret'],
  async run(ctx, [input]) {
    const { registry, host, droppedPath } = parseRegistryArg(input);
    if (droppedPath) ctx.warn(`logging in to ${registry}: the path in "${input}" is ignored (credentials are per registry)`);
    let cred: Credential | undefined = await ctx.flagCredential();
    if (!cred) {
      if (!ctx.io.stdinIsTTY) throw new LadingError('usage', 'no credentials given: pass -u USER with --password-stdin (or -p), or --identity-token');
      const username = await prompt(ctx, 'Username: ', false);
      const password = await prompt(ctx, 'Password: ', true);
      if (!username || !password) throw new LadingError('usage', 'username and password are required');
      cred = { username, password };
    }
    const client = new Registry(registry, host, {
      ...(await ctx.registry({ registry, host })).options,
      credentials: async () => cred,
    });
    try {
      await client.ping();
    } catch (err) {
      const e = err as LadingError;
      if (e.kind === 'unauthorized') throw new LadingError('unauthorized', `login to ${registry} failed: the registry rejected the credentials`, { cause: err });
      throw err;
    }
    const key = await storeCredential(registry, cred, { configPath: ctx.str('registry-config'), env: ctx.io.env, warn: (m) => ctx.warn(m) });
    ctx.result('Login Succeeded', { registry, key, loggedIn: true });
  },
};

const logout: Command = {
  name: 'logout',
  summary: 'Remove the stored credentials of a registry',
  usage: 'REGISTRY',
  args: [1, 1],
  flags: [formatFlag, { long: 'registry-config', type: 'string', value: 'PATH', desc: 'Docker config.json to edit' }, ...commonFlags],
  async run(ctx, [input]) {
    const { registry } = parseRegistryArg(input);
    try {
      await removeCredential(registry, { configPath: ctx.str('registry-config'), env: ctx.io.env, warn: (m) => ctx.warn(m) });
    } catch (err) {
      // Not logged in is the state logout asks for: say so and succeed (as docker), so cleanup steps never fail on it.
      if ((err as LadingError).kind !== 'not-found') throw err;
      ctx.result(`Not logged in to ${registry}`, { registry, loggedIn: false, removed: false });
      return;
    }
    ctx.result(`Removed login credentials for ${registry}`, { registry, loggedIn: false, removed: true });
  },
};

export const VERSION = '0.1.0';

const version: Command = {
  name: 'version',
  summary: 'Show the version',
  usage: '',
  args: [0, 0],
  flags: [formatFlag, { long: 'help', short: 'h', type: 'bool', desc: 'show help' }],
  async run(ctx) {
    ctx.result(`lading ${VERSION}\nnode ${process.version} ${process.platform}/${process.arch}`, { version: VERSION, node: process.version, platform: `${process.platform}/${process.arch}` });
  },
};

export const loginCommands = [login, logout, version];
