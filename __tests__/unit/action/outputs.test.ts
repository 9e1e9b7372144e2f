import { describe, expect, it } from '@jest/globals';
import { assertNoSecrets, resultOutputs, SecretInOutputError } from '../../../src/action/outputs.js';

describe('outputs', () => {
  it('sets digest, reference, tags (JSON list), media-type, size, files and json from the result', () => {
    const json = { reference: 'r.example/a@sha256:abc', digest: 'sha256:abc', mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 512, tags: ['v1', 'latest'], files: [{ path: 'out/a.txt' }, { title: 'b.txt' }] };
    expect(resultOutputs(json)).toEqual({
      digest: 'sha256:abc',
      reference: 'r.example/a@sha256:abc',
      tags: '["v1","latest"]',
      'media-type': 'application/vnd.oci.image.manifest.v1+json',
      size: '512',
      files: '["out/a.txt","b.txt"]',
      json: JSON.stringify(json),
    });
  });

  it('leaves out what the result does not have (digest and reference are always set)', () => {
    expect(resultOutputs({ registry: 'r.example', loggedIn: true })).toEqual({ digest: '', reference: '', json: '{"registry":"r.example","loggedIn":true}' });
  });

  it('fails naming the output that holds a registered secret, without the secret', () => {
    const outputs = { digest: 'sha256:abc', reference: 'r.example/team-s3cret/app@sha256:abc' };
    expect(() => assertNoSecrets(outputs, ['other', 's3cret'])).toThrow(SecretInOutputError);
    let message = '';
    try {
      assertNoSecrets(outputs, ['s3cret']);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('output "reference" would contain a password or token');
    expect(message).not.toContain('s3cret');
    expect(() => assertNoSecrets(outputs, ['nothere', ''])).not.toThrow();
  });
});
