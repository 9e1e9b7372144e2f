/** forEachLimit: bounded concurrency, and no return while work is still running after a failure. */
import { describe, expect, it } from '@jest/globals';
import { forEachLimit } from '../../../src/ops/push.js';

const tick = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('forEachLimit', () => {
  it('never runs more than the limit at once, and runs every item', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await forEachLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await tick(5);
      running--;
      done.push(n);
    });
    expect(peak).toBe(3);
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('after a failure, waits for the items already running before rejecting with the first error, and starts no new one', async () => {
    const finished: string[] = [];
    const started: string[] = [];
    const run = forEachLimit(['fails', 'slow', 'later'], 2, async (name) => {
      started.push(name);
      if (name === 'fails') {
        await tick(5);
        throw new Error('first failure');
      }
      await tick(60);
      finished.push(name);
    });
    await expect(run).rejects.toThrow('first failure');
    // The slow item was running when the first one failed: the call returned only after it was done.
    expect(finished).toEqual(['slow']);
    expect(started).toEqual(['fails', 'slow']);
  });
});
