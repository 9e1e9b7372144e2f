import * as core from '@actions/core';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../cli/main.js';
import { LADING_REGISTRY_CONFIG } from '../registry/credentials/config.js';
import { describeRateLimit, type RateLimit } from '../registry/http/rate-limit.js';
import { storeCredentials } from './credentials.js';
import { isTwoSided, Output, parseInputs, toCliArgs, type ActionInputs } from './inputs.js';
import { assertNoSecrets, fileNames, resultOutputs } from './outputs.js';
import { commandInputs, planCredentials, planSecrets } from './plan.js';
import { setup } from './setup.js';
import { saveRecords, type StateStore } from './state.js';

/** Runs the CLI command in-process with `--format json`; the password goes on stdin, never in argv. */
async function runCli(inputs: ActionInputs): Promise<{ code: number; stdout: string; stderr: string; rateLimits: Map<string, RateLimit> }> {
  const rateLimits = new Map<string, RateLimit>();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const errLines: string[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  let pending = '';
  stderr.on('data', (c: Buffer) => {
    pending += c.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      errLines.push(line);
      // The CLI's warning about passwords in argv does not apply in-process (no other process can see them).
      if (line.startsWith('Error: ') || line.startsWith('Run "lading') || /^Warning: Using --(from-|to-)?password via/.test(line)) continue;
      // Warnings (a credential helper that cannot be run, CASES B11) stay warnings: annotations, not failures.
      if (line.startsWith('Warning: ')) core.warning(line.slice(9));
      else core.info(line);
    }
  });
  const code = await main(toCliArgs(inputs), {
    stdin: Readable.from(inputs.password !== undefined && !isTwoSided(inputs.command) ? [Buffer.from(inputs.password)] : []),
    stdout,
    stderr,
    env: process.env,
    stdinIsTTY: false,
    stderrIsTTY: false,
    onRateLimit: (registry, limit) => rateLimits.set(registry, limit),
  });
  if (pending) errLines.push(pending);
  // What the registries said of their rate limits, as they last said it (Docker Hub counts pulls per window).
  for (const [registry, limit] of rateLimits) core.info(`Rate limit at ${registry}: ${describeRateLimit(limit)}`);
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: errLines.join('\n'), rateLimits };
}

/** Secrets registered with the runner by this step: no output may hold one (CASES B35). */
const secrets = new Set<string>();

function registerSecret(secret: string): void {
  secrets.add(secret);
  core.setSecret(secret);
}

/** Sets the outputs, all or none: none may hold a registered secret. */
function setOutputs(outputs: Record<string, string>): void {
  assertNoSecrets(outputs, secrets);
  for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value);
}

const stateStore: StateStore = { get: (name) => core.getState(name), save: (name, value) => core.saveState(name, value) };

/**
 * The Action: typed inputs → credentials stored → the same code the CLI runs → outputs and a job summary;
 * errors fail the step. The post step (post.ts) undoes the credential writes.
 */
export async function run(): Promise<void> {
  try {
    const inputs = parseInputs((name) => core.getInput(name));
    const plan = planCredentials(inputs, process.env);
    // Only passwords and tokens are secrets: never hosts, repositories, tags or digests (CASES B35).
    for (const secret of planSecrets(inputs, plan)) registerSecret(secret);
    let configFile: string | undefined;
    if (plan.store.length > 0) {
      const stored = await storeCredentials(plan.store, {
        dockerConfig: inputs.dockerConfig,
        env: process.env,
        info: (m) => core.info(m),
        warning: (m) => core.warning(m),
        save: (records) => (inputs.logout ? saveRecords(stateStore, records) : undefined),
      });
      configFile = stored.file;
      if (stored.isolated) core.exportVariable(LADING_REGISTRY_CONFIG, stored.file);
    }
    if (inputs.command === 'setup') {
      const result = await setup();
      setOutputs({ [Output.version]: result.version, [Output.json]: JSON.stringify(result) });
      return;
    }
    // The operation's status lines (one plain line per blob, never redrawn) in one collapsible group.
    const { code, stdout, stderr, rateLimits } = await core.group(`lading ${inputs.command}${inputs.reference ? ` ${inputs.reference}` : inputs.source ? ` ${inputs.source} -> ${inputs.destination}` : ''}`, () =>
      runCli(commandInputs(inputs, plan, configFile)),
    );
    if (code !== 0) {
      const message = stderr.split('\n').find((l) => l.startsWith('Error: '))?.slice(7) ?? `lading exited with code ${code}`;
      core.setFailed(inActionTerms(message));
      return;
    }
    const json = stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>);
    setOutputs(resultOutputs(json));
    // The summary is a courtesy: the work is done, so a summary that cannot be written only warns.
    if (inputs.summary && process.env.GITHUB_STEP_SUMMARY) {
      await writeSummary(inputs, json, rateLimits).catch((err: Error) => core.warning(`could not write the job summary: ${err.message}`));
    }
  } catch (err) {
    core.setFailed((err as Error).message);
  }
}

async function writeSummary(inputs: ActionInputs, json: Record<string, unknown>, rateLimits: Map<string, RateLimit>): Promise<void> {
  const rows: Array<[string, string]> = [['command', inputs.command]];
  for (const key of ['reference', 'digest', 'mediaType', 'size']) {
    if (json[key] !== undefined) rows.push([key, String(json[key])]);
  }
  if (Array.isArray(json.tags)) rows.push(['tags', json.tags.join(', ')]);
  if (Array.isArray(json.repositories)) rows.push(['repositories', String(json.repositories.length)]);
  if (typeof json.artifactType === 'string') rows.push(['artifactType', json.artifactType]);
  if (Array.isArray(json.files)) rows.push([inputs.command === 'pull' ? 'files written' : 'files', fileNames(json.files).join(', ')]);
  if (Array.isArray(json.referrers)) rows.push(['referrers', String(json.referrers.length)]);
  for (const [registry, limit] of rateLimits) rows.push([`rate limit (${registry})`, describeRateLimit(limit)]);
  await core.summary
    .addHeading(`lading ${inputs.command}`, 3)
    .addTable([
      [
        { data: 'field', header: true },
        { data: 'value', header: true },
      ],
      ...rows.map(([k, v]) => [k, `<code>${escapeHtml(v)}</code>`]),
    ])
    .write();
}

/** CLI advice in an error message, reworded for the Action's inputs. */
export function inActionTerms(message: string): string {
  return message
    .replace('log in with `lading login` or pass -u/-p', 'check the username and password inputs (or registry-auth)')
    .replace(/--plain-http\b/g, 'plain-http: true')
    .replace(/--ca-file\b/g, 'the ca-file input')
    .replace(/--insecure\b/g, 'insecure: true')
    .replace(/--(?:to-)?chunk-size\b/g, 'the chunk-size input')
    .replace(/--cert-file and --key-file/g, 'a client certificate (not an input of this Action)');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
