import { removePartialFilesOnSignals } from '../content/atomic-file.js';
import { run } from './main.js';

// A cancelled job's step gets SIGINT (then SIGTERM): no half-written file is left in the workspace.
removePartialFilesOnSignals();

await run();
