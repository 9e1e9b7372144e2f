import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  /** The arguments the CLI was run with. */
  args: string[];
  code: number;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

/** Runs the lading CLI in-process with captured stdout/stderr and the given stdin. */
export async function lading(args: string[], options: { stdin?: string | Buffer; env?: NodeJS.ProcessEnv; tty?: boolean } = {}): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]);
  const code = await main(args, {
    stdin,
    stdout,
    stderr,
    env: options.env ?? { ...process.env, DOCKER_CONFIG: '/nonexistent-lading-test-docker-config' },
    stdinIsTTY: options.tty ?? false,
    stderrIsTTY: false,
  });
  const stdoutBytes = Buffer.concat(out);
  return { args, code, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr: Buffer.concat(err).toString('utf8') };
}
