/** `command: setup` as the runner runs it: the CLI lands in the tool cache and on PATH; a second run reuses it. */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAction } from '../helpers/action.js';
import { tmpDir } from '../helpers/tmp.js';

describe('Action: setup', () => {
  it('caches the CLI by version, adds it to PATH, and reuses the cache', async () => {
    const cache = tmpDir('lading-toolcache-');
    const env = { RUNNER_TOOL_CACHE: cache };
    const first = await runAction({ command: 'setup' }, env);
    expect(first.stdout).not.toContain('::error::');
    expect(first.code).toBe(0);
    const version = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version as string;
    expect(first.outputs.version).toBe(version);
    const dir = join(cache, 'lading', version, process.arch === 'x64' ? 'x64' : process.arch);
    expect(first.path.trim()).toBe(dir);
    expect(first.stdout).toContain('added to the tool cache');
    expect(existsSync(`${dir}.complete`)).toBe(true);
    // A later `run:` step calls it by name from PATH.
    const out = execFileSync('lading', ['version'], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, encoding: 'utf8' });
    expect(out).toContain(`lading ${version}`);

    const second = await runAction({ command: 'setup' }, env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('found in the tool cache');
    expect(second.path.trim()).toBe(dir);
  });
});
