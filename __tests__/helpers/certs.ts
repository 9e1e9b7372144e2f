/**
 * Test certificates made with openssl.
 *
 * `testTlsMaterial()` makes one CA and one server certificate for 127.0.0.1 / localhost per process
 * (files under `<tmp>/lading-tls-<pid>`, reused by every registry and token server of the process, removed at
 * exit). `selfSignedCert()` wraps an existing private key in a self-signed certificate (token signing bundle).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './exec.js';
import { removeAtExit, removeDir, tmpDir } from './tmp.js';

export interface TlsMaterial {
  /** directory holding the files below */
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  /** a client certificate and key signed by the CA (extendedKeyUsage clientAuth), for mutual TLS */
  clientCertFile: string;
  clientKeyFile: string;
}

let cached: Promise<TlsMaterial> | undefined;

/** CA + server certificate (SAN IP:127.0.0.1, DNS:localhost) signed by it, made once per process. */
export function testTlsMaterial(): Promise<TlsMaterial> {
  cached ??= makeTlsMaterial().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

async function makeTlsMaterial(): Promise<TlsMaterial> {
  // Keyed by pid so that test files sharing a jest worker reuse it; removed at exit by whoever made it.
  const dir = join(tmpdir(), `lading-tls-${process.pid}`);
  const caFile = join(dir, 'ca.pem');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server.key');
  const clientCertFile = join(dir, 'client.pem');
  const clientKeyFile = join(dir, 'client.key');
  if (!(existsSync(caFile) && existsSync(certFile) && existsSync(keyFile) && existsSync(clientCertFile))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const caKey = join(dir, 'ca.key');
    const csr = join(dir, 'server.csr');
    const ext = join(dir, 'server.ext');
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', caKey, '-out', caFile, '-days', '3650', '-subj', '/CN=lading test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await run('openssl', [
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', keyFile, '-out', csr, '-subj', '/CN=127.0.0.1',
    ]);
    writeFileSync(
      ext,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '',
      ].join('\n'),
    );
    await run('openssl', [
      'x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial',
      '-out', certFile, '-days', '825', '-sha256', '-extfile', ext,
    ]);
    const clientCsr = join(dir, 'client.csr');
    const clientExt = join(dir, 'client.ext');
    await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', clientKeyFile, '-out', clientCsr, '-subj', '/CN=lading test client']);
    writeFileSync(clientExt, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
    await run('openssl', ['x509', '-req', '-in', clientCsr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', clientCertFile, '-days', '825', '-sha256', '-extfile', clientExt]);
  }
  removeAtExit(dir);
  return {
    dir,
    caFile,
    certFile,
    keyFile,
    caPem: readFileSync(caFile, 'utf8'),
    certPem: readFileSync(certFile, 'utf8'),
    keyPem: readFileSync(keyFile, 'utf8'),
    clientCertFile,
    clientKeyFile,
  };
}

/** A self-signed certificate (PEM) for `privateKeyPem`, e.g. the token server's signing certificate. */
export async function selfSignedCert(privateKeyPem: string, commonName: string): Promise<string> {
  const dir = tmpDir('lading-selfsigned-');
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    writeFileSync(keyFile, privateKeyPem, { mode: 0o600 });
    await run('openssl', ['req', '-x509', '-new', '-key', keyFile, '-out', certFile, '-days', '3650', '-sha256', '-subj', `/CN=${commonName}`]);
    return readFileSync(certFile, 'utf8');
  } finally {
    removeDir(dir);
  }
}
