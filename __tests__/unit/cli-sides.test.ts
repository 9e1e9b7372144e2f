import { describe, expect, it } from '@jest/globals';
import { forSide } from '../../src/cli/main.js';
import { sideFlags } from '../../src/cli/context.js';

describe('two-sided commands word their advice with their own flags', () => {
  it('rewrites the hints of an error that names its side', () => {
    expect(forSide('destination r.example/x: HEAD https://r.example/v2/: TLS handshake failed (wrong version number): the registry may speak plain HTTP: try --plain-http'))
      .toBe('destination r.example/x: HEAD https://r.example/v2/: TLS handshake failed (wrong version number): the registry may speak plain HTTP: try --to-plain-http');
    expect(forSide('source r.example/x: GET …: 401 Unauthorized (authentication required or credentials rejected: log in with `lading login` or pass -u/-p)'))
      .toBe('source r.example/x: GET …: 401 Unauthorized (authentication required or credentials rejected: pass --from-username with --from-password-stdin)');
    expect(forSide('source a: (TLS: trust the registry\'s CA with --ca-file, or skip verification with --insecure)')).toBe('source a: (TLS: trust the registry\'s CA with --from-ca-file, or skip verification with --from-insecure)');
    expect(forSide('some other error: try --plain-http')).toBe('some other error: try --plain-http');
  });

  it('per-side flag descriptions name the per-side flags', () => {
    const to = sideFlags('to');
    expect(to.find((f) => f.long === 'to-password')!.desc).toContain('--to-password-stdin');
    expect(to.find((f) => f.long === 'to-plain-http')!.desc).toContain('--to-plain-http=false');
    expect(to.map((f) => f.desc).join(' ')).not.toMatch(/(^|[^-a-z])--(password-stdin|plain-http)/);
  });
});
