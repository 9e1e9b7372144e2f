import type { EventEmitter } from 'node:events';
import { removePartialFiles } from '../content/atomic-file.js';

/**
 * A safety net for the whole class of "a promise nobody will ever settle": when the event loop runs out of work
 * while `work` is still pending, nothing can wake it any more. Node would exit with code 13 and no word (seen once:
 * a download whose body broke before it was read). Instead `onStuck` runs: the caller removes partial files, says
 * it was lading's fault, and exits 1.
 */
export function guardUnsettled(work: Promise<unknown>, onStuck: () => void, proc: EventEmitter = process): void {
  let settled = false;
  work.then(
    () => (settled = true),
    () => (settled = true),
  );
  proc.once('beforeExit', () => {
    if (!settled) onStuck();
  });
}

/** What the CLI and the Action say when guardUnsettled finds them stuck. */
export const STUCK_MESSAGE =
  'internal error: lading stopped with its work unfinished (nothing was left to wait for); this is a bug: please report it with the --debug output';

/** Removes partial files, says STUCK_MESSAGE (on stderr by default; the Action fails its step), exits 1. */
export function exitStuck(say: (message: string) => void = (m) => process.stderr.write(`Error: ${m}\n`)): void {
  removePartialFiles();
  say(STUCK_MESSAGE);
  process.exit(1);
}
