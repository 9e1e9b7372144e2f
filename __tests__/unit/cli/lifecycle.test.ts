/**
 * guardUnsettled: when the event loop runs dry while the command's promise is still pending (nothing can settle it
 * any more), the CLI and the Action say so and exit 1, instead of Node's silent exit code 13.
 */
import { describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { guardUnsettled } from '../../../src/cli/lifecycle.js';

describe('guardUnsettled', () => {
  it('calls onStuck when the loop runs dry (beforeExit) while the work is pending', () => {
    const proc = new EventEmitter();
    let stuck = 0;
    guardUnsettled(new Promise(() => {}), () => stuck++, proc);
    proc.emit('beforeExit', 0);
    expect(stuck).toBe(1);
  });

  it.each([
    ['resolved', () => Promise.resolve(0)],
    ['rejected', () => Promise.reject(new Error('x'))],
  ])('does nothing once the work has %s', async (_how, make) => {
    const proc = new EventEmitter();
    let stuck = 0;
    const work = make();
    guardUnsettled(work, () => stuck++, proc);
    await work.catch(() => undefined);
    await Promise.resolve();
    proc.emit('beforeExit', 0);
    expect(stuck).toBe(0);
  });
});
