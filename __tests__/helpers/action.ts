import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './tmp.js';

export const ACTION_ENTRY = fileURLToPath(new URL('../../dist/action/index.js', import.meta.url));
/** The post step's bundle (`runs.post` in action.yml). */
export const ACTION_POST_ENTRY = fileURLToPath(new URL('../../dist/action/post.js', import.meta.url));

export interface StepRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  /** What the Action appended to GITHUB_PATH. */
  path: string;
  /** What the Action exported for later steps (GITHUB_ENV). */
  exported: Record<string, string>;
  /** What the Action saved for its post step (GITHUB_STATE, last value of each name wins, as in the runner). */
  state: Record<string, string>;
  /** The step's temp folder (RUNNER_TEMP and HOME unless overridden). */
  dir: string;
  /** The environment the step ran with. */
  env: Record<string, string>;
  /**
   * Runs the post step (dist/action/post.js) as the runner does at the end of the job: the same inputs and
   * environment, and each GITHUB_STATE value as a `STATE_<name>` variable.
   */
  post(extraEnv?: Record<string, string>): Promise<StepRun>;
}

function runNode(entry: string, env: Record<string, string>, cwd?: string): Promise<StepRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [entry], { env, timeout: 60_000, cwd }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Parses a GITHUB_OUTPUT file (`name<<DELIM\nvalue\nDELIM` blocks, or `name=value` lines). */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^=<]+)<<(.+)$/.exec(lines[i]);
    if (m) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]);
      out[m[1]] = value.join('\n');
    } else if (lines[i].includes('=')) {
      const eq = lines[i].indexOf('=');
      out[lines[i].slice(0, eq)] = lines[i].slice(eq + 1);
    }
  }
  return out;
}

/** Runs the bundled Action as the runner does: INPUT_* variables and GITHUB_* files in a temp folder. */
export async function runAction(inputs: Record<string, string>, extraEnv: Record<string, string> = {}, cwd?: string): Promise<ActionRun> {
  const dir = tmpDir('lading-action-');
  const files = { GITHUB_OUTPUT: join(dir, 'output'), GITHUB_STEP_SUMMARY: join(dir, 'summary'), GITHUB_STATE: join(dir, 'state'), GITHUB_PATH: join(dir, 'path'), GITHUB_ENV: join(dir, 'env') };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    RUNNER_TEMP: join(dir),
    DOCKER_CONFIG: join(dir, 'docker'),
    ...files,
    ...extraEnv,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const main = await runNode(ACTION_ENTRY, env, cwd);
  const state = parseOutputFile(readFileSync(files.GITHUB_STATE, 'utf8'));
  return {
    ...main,
    outputs: parseOutputFile(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
    summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    path: readFileSync(files.GITHUB_PATH, 'utf8'),
    exported: parseOutputFile(readFileSync(files.GITHUB_ENV, 'utf8')),
    state,
    dir,
    env,
    post: (extra = {}) => {
      const stateEnv = Object.fromEntries(Object.entries(state).map(([k, v]) => [`STATE_${k}`, v]));
      return runNode(ACTION_POST_ENTRY, { ...env, ...stateEnv, ...extra }, cwd);
    },
  };
}
