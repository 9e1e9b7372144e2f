#!/usr/bin/env node
import { removePartialFiles, removePartialFilesOnSignals } from '../content/atomic-file.js';
import { exitStuck, guardUnsettled } from './lifecycle.js';
import { main } from './main.js';

removePartialFilesOnSignals();
// stdout closed by the reader (`| head`) or full: say so once instead of crashing with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  removePartialFiles();
  if (err.code !== 'EPIPE') process.stderr.write(`Error: cannot write to stdout: ${err.code ?? err.message}\n`);
  process.exit(1);
});

const work = main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  stdinIsTTY: Boolean(process.stdin.isTTY),
  stderrIsTTY: Boolean(process.stderr.isTTY),
});
guardUnsettled(work, () => exitStuck());
process.exitCode = await work;
