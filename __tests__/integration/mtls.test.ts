/** Mutual TLS: a registry that demands client certificates (Distribution http.tls.clientcas). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { testTlsMaterial, type TlsMaterial } from '../helpers/certs.js';
import { lading } from '../helpers/cli.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { BUSYBOX_V2S2, BUSYBOX_V2S2_DIR } from '../helpers/fixtures.js';

describe('--cert-file / --key-file', () => {
  let reg: RunningRegistry;
  let tls: TlsMaterial;
  beforeAll(async () => {
    [reg, tls] = await Promise.all([startRegistry({ mode: 'tls', clientCerts: true }), testTlsMaterial()]);
  });
  afterAll(async () => reg?.stop());

  it('connects with a client certificate and fails clearly without one', async () => {
    const base = ['--ca-file', reg.caFile!];
    const without = await lading(['repo', 'ls', ...base, reg.host]);
    expect(without.code).toBe(7);
    expect(without.stderr).toMatch(/^Error: GET https:\/\/127.0.0.1:\d+\/v2\/_catalog: .*--cert-file and --key-file/m);
    const withCert = await lading(['blob', 'push', ...base, '--cert-file', tls.clientCertFile, '--key-file', tls.clientKeyFile, `${reg.host}/mtls`, BUSYBOX_V2S2_DIR + '/' + BUSYBOX_V2S2.config.digest.slice(7)]);
    expect(withCert.stderr).toContain('Pushed');
    expect(withCert.code).toBe(0);
    const ls = await lading(['repo', 'ls', ...base, '--cert-file', tls.clientCertFile, '--key-file', tls.clientKeyFile, reg.host]);
    expect(ls.stdout).toContain('mtls\n');
    const half = await lading(['repo', 'ls', ...base, '--cert-file', tls.clientCertFile, reg.host]);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--cert-file and --key-file go together');
  });
});
