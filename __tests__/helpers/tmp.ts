/**
 * Temporary directories and process-exit cleanup for tests.
 *
 * Every directory made by `tmpDir` is removed when the process exits, or earlier through `removeDir` / the
 * returned cleanup. Inside jest, `process` is a per-test-file copy whose `exit` event never fires, so `atExit`
 * callbacks only run under plain node; directories are therefore also handed to a small detached reaper shell
 * that removes them once this process is gone (its stdin pipe closes however the process ends, even SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const exitCallbacks = new Set<() => void>();
let exitHookInstalled = false;

function runExitCallbacks(): void {
  for (const callback of [...exitCallbacks]) {
    exitCallbacks.delete(callback);
    try {
      callback();
    } catch {
      // best effort: the process is going away
    }
  }
}

/** Register a synchronous callback run once at process exit (plain node only, see above); returns a function that unregisters it. */
export function atExit(callback: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', runExitCallbacks);
  }
  exitCallbacks.add(callback);
  return () => {
    exitCallbacks.delete(callback);
  };
}

const liveDirs = new Map<string, () => void>();

/** Reads one directory per line until EOF (this process gone), then removes them all. */
const REAPER = `
while IFS= read -r dir; do set -- "$@" "$dir"; done
sleep 1
rm -rf -- "$@"
`;
let reaper: ChildProcess | undefined;

function reapAfterExit(path: string): void {
  if (!reaper) {
    // detached: its own process group, so a Ctrl-C aimed at jest does not stop it before it cleans up
    reaper = spawn('/bin/sh', ['-c', REAPER], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    reaper.unref();
    reaper.stdin?.on('error', () => undefined);
    (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }
  reaper.stdin?.write(`${path}\n`);
}

/** Create a fresh directory under the OS temp dir (`<prefix>XXXXXX`), removed at process exit. */
export function tmpDir(prefix = 'lading-test-'): string {
  const path = mkdtempSync(join(tmpdir(), prefix));
  removeAtExit(path);
  return path;
}

/** Remove `path` (file or directory) once this process is gone; `removeDir` removes it earlier. */
export function removeAtExit(path: string): void {
  if (liveDirs.has(path)) return;
  liveDirs.set(path, atExit(() => rmSync(path, { recursive: true, force: true })));
  reapAfterExit(path);
}

/** Remove a directory now (made by `tmpDir` or not) and drop its exit hook. Never throws. */
export function removeDir(path: string): void {
  liveDirs.get(path)?.();
  liveDirs.delete(path);
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // already gone or busy: the exit hook is gone too, nothing else to do
  }
}

/** `tmpDir` with its cleanup, for `afterAll(cleanup)` style use. */
export function tmpDirWithCleanup(prefix?: string): { path: string; cleanup: () => void } {
  const path = tmpDir(prefix);
  return { path, cleanup: () => removeDir(path) };
}

/** Give the owner write permission on a tree (copies of read-only shared test data stay read-only otherwise). */
export function makeWritable(path: string): void {
  chmodSync(path, 0o755);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) makeWritable(child);
    else if (entry.isFile()) chmodSync(child, 0o644);
  }
}

/** Copy a directory tree (e.g. a read-only Distribution root from /work/shared/testdata) and make the copy writable. */
export function copyWritable(source: string, destination: string): void {
  cpSync(source, destination, { recursive: true });
  makeWritable(destination);
}
