import { it } from '@jest/globals';
import { lading } from '../helpers/cli.js';
import { startRegistry } from '../helpers/registry.js';
it('probe', async () => {
  const reg = await startRegistry();
  for (const size of ['25', '15']) {
    const r = await lading(['blob', 'push', '--plain-http', '--size', size, `${reg.host}/blobs`, '-'], { stdin: Buffer.from('twenty bytes of data') });
    console.log(size, r.code, r.stdout, r.stderr);
  }
  await reg.stop();
});
