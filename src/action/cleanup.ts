/**
 * The post step's work (`runs.post` in action.yml, run with `post-if: always()`): removes the credentials the main
 * step stored and puts back what they replaced, from the records it saved as state. Safe when nothing was
 * stored, when the file is gone, and when run twice; it never fails the job (problems are warnings).
 */
import * as core from '@actions/core';
import { restoreCredentials } from './credentials.js';
import { loadRecords } from './state.js';

export async function post(): Promise<void> {
  try {
    const records = loadRecords({ get: (name) => core.getState(name), save: (name, value) => core.saveState(name, value) });
    if (records.length === 0) {
      core.info('lading: no credentials to remove');
      return;
    }
    await restoreCredentials(records, { env: process.env, info: (m) => core.info(m), warning: (m) => core.warning(m) });
  } catch (err) {
    core.warning(`lading: could not remove the stored credentials: ${(err as Error).message}`);
  }
}
