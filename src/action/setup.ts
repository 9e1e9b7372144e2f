import * as core from '@actions/core';
import * as tc from '@actions/tool-cache';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { VERSION } from '../cli/commands/login.js';

export const TOOL_NAME = 'lading';

/**
 * `command: setup`: puts the `lading` CLI on PATH for later `run:` steps. The CLI bundle that ships next
 * to this Action (dist/cli) is cached by version in the runner's tool cache, so a second run reuses it.
 */
export async function setup(): Promise<{ version: string; path: string; cached: boolean }> {
  // The runner sets these; running the bundle by hand needs them too.
  for (const name of ['RUNNER_TOOL_CACHE', 'GITHUB_PATH']) {
    if (!process.env[name]) throw new Error(`command "setup" needs ${name} (the runner sets it; when running the Action by hand, point it at a folder or file)`);
  }
  let dir = tc.find(TOOL_NAME, VERSION);
  const cached = dir !== '';
  if (!cached) {
    const staging = await mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), 'lading-setup-'));
    // The runner runs `node <action>/dist/action/index.js`: the CLI bundle is beside it in dist/cli.
    const cliDir = join(dirname(process.argv[1]), '..', 'cli');
    await mkdir(join(staging, 'lib'));
    await copyFile(join(cliDir, 'index.js'), join(staging, 'lib', 'index.js'));
    await writeFile(join(staging, 'lib', 'package.json'), '{"type":"module"}\n');
    // The node that runs this Action (>= 20.18), falling back to the node on PATH if it is gone later.
    const wrapper = `#!/bin/sh\nN=${JSON.stringify(process.execPath)}\n[ -x "$N" ] || N=node\nexec "$N" "$(dirname "$0")/lib/index.js" "$@"\n`;
    await writeFile(join(staging, TOOL_NAME), wrapper);
    await chmod(join(staging, TOOL_NAME), 0o755);
    await writeFile(join(staging, `${TOOL_NAME}.cmd`), `@echo off\r\nnode "%~dp0lib\\index.js" %*\r\n`);
    dir = await tc.cacheDir(staging, TOOL_NAME, VERSION);
    await rm(staging, { recursive: true, force: true });
  }
  core.addPath(dir);
  core.info(cached ? `lading ${VERSION} found in the tool cache: ${dir}` : `lading ${VERSION} added to the tool cache: ${dir}`);
  return { version: VERSION, path: dir, cached };
}
