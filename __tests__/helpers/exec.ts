/** Run an external tool (openssl, htpasswd, skopeo) without a shell; errors carry the command line and stderr. */
import { execFile } from 'node:child_process';

export interface ExecResult {
  /** stdout decoded as UTF-8 */
  stdout: string;
  /** stdout bytes, exactly as written (e.g. a raw manifest to hash) */
  stdoutBytes: Buffer;
  stderr: string;
}

export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' },
      (error, stdoutBytes, stderrBytes) => {
        const stdout = stdoutBytes.toString('utf8');
        const stderr = stderrBytes.toString('utf8');
        if (error) {
          const detail = stderr.trim() || stdout.trim() || error.message;
          reject(new Error(`${command} ${args.join(' ')} failed (${error.code ?? error.signal ?? 'error'}): ${detail}`, { cause: error }));
          return;
        }
        resolve({ stdout, stdoutBytes, stderr });
      },
    );
  });
}
