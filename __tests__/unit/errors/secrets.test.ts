/** The one scrubber of secrets and the one escaper of server text (src/errors/secrets.ts, src/errors/printable.ts). */
import { afterEach, describe, expect, it } from '@jest/globals';
import { printable, printableLines } from '../../../src/errors/printable.js';
import { addSecret, clearSecrets, currentSecretScope, scrubSecrets, SecretSet, withSecretScope } from '../../../src/errors/secrets.js';

afterEach(() => clearSecrets());

describe('scrubSecrets', () => {
  it('removes a registered secret in every form it can be echoed in', () => {
    const secret = 'IDTOK/SECRET+1= x';
    addSecret(secret);
    const echoes = [
      secret,
      encodeURIComponent(secret), // IDTOK%2FSECRET%2B1%3D%20x
      new URLSearchParams({ refresh_token: secret }).toString().slice('refresh_token='.length), // IDTOK%2FSECRET%2B1%3D+x
      'IDTOK%2fSECRET%2b1%3d+x', // lower-case hex
      encodeURI(secret),
      JSON.stringify(secret).slice(1, -1),
      'IDTOK\\/SECRET+1= x',
    ];
    for (const echo of echoes) expect(scrubSecrets(`body was refresh_token=${echo}&client_id=lading`)).toBe('body was refresh_token=***&client_id=lading');
  });

  it('the Basic value of user:pass is scrubbed once registered, and quoted Authorization headers always', () => {
    const basic = Buffer.from('bob:hunter22').toString('base64');
    addSecret('hunter22');
    addSecret(basic);
    expect(scrubSecrets(`sent ${basic} and hunter22`)).toBe('sent *** and ***');
    expect(scrubSecrets('Authorization: Bearer abc.def')).toBe('Authorization: Bearer ***');
  });

  it('never scrubs strings shorter than 3 characters; extra secrets apply to one call only', () => {
    addSecret('ab');
    addSecret('');
    addSecret(undefined);
    expect(scrubSecrets('ab cd')).toBe('ab cd');
    expect(scrubSecrets('one local-secret', [], ['local-secret', 'x'])).toBe('one ***');
    expect(scrubSecrets('one local-secret')).toBe('one local-secret');
  });

  it('a run (withSecretScope) scrubs its own secrets and the process\'s; another run never sees them', async () => {
    addSecret('process-wide');
    const one = withSecretScope(async () => {
      addSecret('run-one-secret');
      await new Promise((r) => setTimeout(r, 5));
      return scrubSecrets('run-one-secret run-two-secret process-wide');
    });
    const two = withSecretScope(async () => {
      addSecret('run-two-secret');
      return scrubSecrets('run-one-secret run-two-secret process-wide');
    });
    expect(await one).toBe('*** run-two-secret ***');
    expect(await two).toBe('run-one-secret *** ***');
    expect(scrubSecrets('run-one-secret run-two-secret')).toBe('run-one-secret run-two-secret');
  });

  it('a client\'s SecretSet scrubs where it is given, forwards to the run it was made in, and never to the process', async () => {
    const outside = new SecretSet();
    outside.add('client-token');
    expect(scrubSecrets('client-token')).toBe('client-token');
    expect(scrubSecrets('client-token', [outside])).toBe('***');
    const inRun = await withSecretScope(async () => {
      const set = new SecretSet(currentSecretScope());
      set.add('bearer-of-run');
      return scrubSecrets('bearer-of-run');
    });
    expect(inRun).toBe('***');
    expect(scrubSecrets('bearer-of-run')).toBe('bearer-of-run');
  });

  it('a secret inside a longer one leaves no piece of the longer one behind', () => {
    addSecret('abc');
    addSecret('xxabcyy');
    expect(scrubSecrets('xxabcyy')).toBe('***');
  });
});

describe('printable', () => {
  it('escapes C0 controls (CR, LF, TAB, ESC …), DEL and C1 controls', () => {
    expect(printable('\u001b[31mred\r\nFAKE: Pushed ok\tx\u0000\u007f\u009b2J\u0085')).toBe('\\x1b[31mred\\r\\nFAKE: Pushed ok\\tx\\x00\\x7f\\u009b2J\\u0085');
    expect(printable('::error::x\n::add-mask::y')).toBe('::error::x\\n::add-mask::y');
    expect(printable('bidi \u202e override\u2028')).toBe('bidi \\u202e override\\u2028');
    expect(printable('plain text: ünïcode, "quotes" \\ and back\\slashes')).toBe('plain text: ünïcode, "quotes" \\ and back\\slashes');
  });

  it('printableLines keeps LF (lading\'s own line breaks) and escapes everything else', () => {
    expect(printableLines('first\nsecond\r\u001b[2K\u009b')).toBe('first\nsecond\\r\\x1b[2K\\u009b');
  });
});
