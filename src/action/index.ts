import * as core from '@actions/core';
import { removePartialFilesOnSignals } from '../content/atomic-file.js';
import { exitStuck, guardUnsettled } from '../cli/lifecycle.js';
import { run } from './main.js';

// A cancelled job's step gets SIGINT (then SIGTERM): no half-written file is left in the workspace.
removePartialFilesOnSignals();

const work = run();
// Work that can never finish fails the step with a message instead of Node's silent exit code 13.
guardUnsettled(work, () => exitStuck(core.setFailed));
await work;
