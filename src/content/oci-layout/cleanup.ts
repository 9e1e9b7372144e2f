import { rmSync } from 'node:fs';

/**
 * Paths removed when the process exits (extracted layout archives, index locks still held).
 * Only synchronous work can run at 'exit'; a process killed by a signal skips it, which is why
 * locks also go stale after a timeout.
 */
const paths = new Set<string>();
let installed = false;

function removeAll(): void {
  for (const p of paths) {
    try {
      rmSync(p, { recursive: true, force: true });
    } catch {
      // best effort: the process is going away
    }
  }
  paths.clear();
}

export function removeAtExit(path: string): void {
  if (!installed) {
    installed = true;
    process.on('exit', removeAll);
  }
  paths.add(path);
}

export function forgetAtExit(path: string): void {
  paths.delete(path);
}
