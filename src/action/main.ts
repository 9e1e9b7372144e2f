import * as core from '@actions/core';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../cli/main.js';
import { InputError, Output, parseInputs, toCliArgs, type ActionInputs } from './inputs.js';
import { setup } from './setup.js';

/** Runs the CLI command in-process with `--format json`; the password goes on stdin, never in argv. */
async function runCli(inputs: ActionInputs): Promise<{ code: number; stdout: string; stderr: string }> {
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
      if (!line.startsWith('Error: ') && !line.startsWith('Run "lading') && !/^Warning: Using --(from-|to-)?password via/.test(line)) core.info(line);
    }
  });
  const code = await main(toCliArgs(inputs), {
    stdin: Readable.from(inputs.password !== undefined && inputs.command !== 'copy' && inputs.command !== 'convert' ? [Buffer.from(inputs.password)] : []),
    stdout,
    stderr,
    env: process.env,
    stdinIsTTY: false,
    stderrIsTTY: false,
  });
  if (pending) errLines.push(pending);
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: errLines.join('\n') };
}

/** The Action: typed inputs → the same code the CLI runs → outputs and a job summary; errors fail the step. */
export async function run(): Promise<void> {
  try {
    const inputs = parseInputs((name) => core.getInput(name));
    for (const secret of [inputs.password, inputs.sourcePassword, inputs.destinationPassword]) if (secret) core.setSecret(secret);
    if (inputs.command === 'setup') {
      const result = await setup();
      core.setOutput(Output.version, result.version);
      core.setOutput(Output.json, JSON.stringify(result));
      return;
    }
    const { code, stdout, stderr } = await runCli(inputs);
    if (code !== 0) {
      const message = stderr.split('\n').find((l) => l.startsWith('Error: '))?.slice(7) ?? `lading exited with code ${code}`;
      core.setFailed(inActionTerms(message));
      return;
    }
    const json = stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>);
    const digest = typeof json.digest === 'string' ? json.digest : '';
    const reference = typeof json.reference === 'string' ? json.reference : '';
    core.setOutput(Output.digest, digest);
    core.setOutput(Output.reference, reference);
    core.setOutput(Output.json, JSON.stringify(json));
    // files: what a pull wrote (paths) or a push/attach uploaded (titles), as a JSON list.
    if (Array.isArray(json.files)) core.setOutput(Output.files, JSON.stringify(fileNames(json.files)));
    // The summary is a courtesy: the work is done, so a summary that cannot be written only warns.
    if (inputs.summary && process.env.GITHUB_STEP_SUMMARY) {
      await writeSummary(inputs, json).catch((err: Error) => core.warning(`could not write the job summary: ${err.message}`));
    }
  } catch (err) {
    core.setFailed(err instanceof InputError ? err.message : (err as Error).message);
  }
}

async function writeSummary(inputs: ActionInputs, json: Record<string, unknown>): Promise<void> {
  const rows: Array<[string, string]> = [['command', inputs.command]];
  for (const key of ['reference', 'digest', 'mediaType', 'size']) {
    if (json[key] !== undefined) rows.push([key, String(json[key])]);
  }
  if (Array.isArray(json.tags)) rows.push(['tags', json.tags.join(', ')]);
  if (Array.isArray(json.repositories)) rows.push(['repositories', String(json.repositories.length)]);
  if (typeof json.artifactType === 'string') rows.push(['artifactType', json.artifactType]);
  if (Array.isArray(json.files)) rows.push([inputs.command === 'pull' ? 'files written' : 'files', fileNames(json.files).join(', ')]);
  if (Array.isArray(json.referrers)) rows.push(['referrers', String(json.referrers.length)]);
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

function fileNames(files: unknown[]): string[] {
  return files.map((f) => {
    const o = f as { path?: string; title?: string };
    return o.path ?? o.title ?? '';
  });
}

/** CLI advice in an error message, reworded for the Action's inputs. */
export function inActionTerms(message: string): string {
  return message
    .replace('log in with `lading login` or pass -u/-p', 'set the username and password inputs')
    .replace(/--plain-http\b/g, 'plain-http: true')
    .replace(/--ca-file\b/g, 'the ca-file input')
    .replace(/--insecure\b/g, 'insecure: true')
    .replace(/--cert-file and --key-file/g, 'a client certificate (not an input of this Action)');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
