import { describe, expect, it } from '@jest/globals';
import { join, resolve } from 'node:path';
import {
  Annotation,
  checkPushPath,
  fileMode,
  parseFileArg,
  parseFileMode,
  pullMode,
  resolvePullPath,
  titleOf,
} from '../../../src/content/file/index.js';

const thrown = (f: () => unknown): { kind?: string; message: string } => {
  try {
    f();
  } catch (e) {
    return e as { kind?: string; message: string };
  }
  throw new Error('expected a throw');
};

describe('annotations', () => {
  it('uses the ORAS keys', () => {
    expect(Annotation).toEqual({
      title: 'org.opencontainers.image.title',
      contentDigest: 'io.deis.oras.content.digest',
      unpack: 'io.deis.oras.content.unpack',
      fileMode: 'land.lading.file.mode',
    });
  });
});

describe('B29: path traversal through the title on pull', () => {
  const root = resolve('/work/out');
  it.each(['../testbash', 'a/../../x', '/etc/passwd', 'C:\\Windows\\x', '..\\\\x', '..\\x', '..'])('refuses %j naming the title and the flag', (title) => {
    const err = thrown(() => resolvePullPath(root, title, false));
    expect(err.kind).toBe('usage');
    expect(err.message).toBe(`path traversal disallowed: ${title} (use --allow-path-traversal)`);
  });

  it('writes ok/../fine.txt as <root>/fine.txt', () => {
    expect(resolvePullPath(root, 'ok/../fine.txt', false)).toBe(join(root, 'fine.txt'));
  });

  it('skips an empty title', () => {
    expect(resolvePullPath(root, '', false)).toBeUndefined();
    expect(resolvePullPath(root, '', true)).toBeUndefined();
  });

  it('places ordinary titles under the root', () => {
    expect(resolvePullPath(root, 'a.txt', false)).toBe(join(root, 'a.txt'));
    expect(resolvePullPath(root, './dir/b.txt', false)).toBe(join(root, 'dir', 'b.txt'));
    expect(resolvePullPath(root, 'dir\\b.txt', false)).toBe(join(root, 'dir', 'b.txt'));
  });

  it('allows traversal when asked', () => {
    expect(resolvePullPath(root, '../testbash', true)).toBe(resolve(root, '..', 'testbash'));
    expect(resolvePullPath(root, 'a/../../x', true)).toBe(resolve(root, '..', 'x'));
    expect(resolvePullPath(root, '/etc/passwd', true)).toBe('/etc/passwd');
    expect(resolvePullPath(root, '..\\x', true)).toBe(resolve(root, '..', 'x'));
  });

  it('on push refuses paths that leave the working directory', () => {
    const cwd = '/work/project';
    for (const p of ['../x', 'a/../../x', '/etc/passwd', '/work/other/file', '..']) {
      const err = thrown(() => checkPushPath(p, cwd));
      expect(err.kind).toBe('usage');
      expect(err.message).toContain('--disable-path-validation');
      expect(err.message).toContain(p);
    }
    for (const p of ['a.txt', './dir', 'a/../b', '/work/project/x/y', '.', '..foo']) {
      expect(() => checkPushPath(p, cwd)).not.toThrow();
    }
  });
});

describe('B32: drive letters versus the :mediatype suffix', () => {
  describe('Windows', () => {
    const win = (arg: string) => parseFileArg(arg, 'win32');
    it('keeps a drive path whole, with the default type', () => {
      expect(win('C:\\Users\\me\\a.txt')).toEqual({ path: 'C:\\Users\\me\\a.txt' });
      expect(win('C:/Users/me/a.txt')).toEqual({ path: 'C:/Users/me/a.txt' });
      expect(win('\\\\?\\C:\\long\\a.txt')).toEqual({ path: '\\\\?\\C:\\long\\a.txt' });
    });
    it('splits a drive path from its media type', () => {
      expect(win('C:\\Users\\me\\a.txt:application/vnd.example.file')).toEqual({
        path: 'C:\\Users\\me\\a.txt',
        mediaType: 'application/vnd.example.file',
      });
    });
    it('refuses a media type with colons', () => {
      const err = thrown(() => win('.\\KEYS:test:test:test'));
      expect(err.kind).toBe('usage');
      expect(err.message).toContain('invalid media type "test:test:test"');
    });
    it('refuses a drive-relative path', () => {
      const err = thrown(() => win('c:file1'));
      expect(err.kind).toBe('usage');
      expect(err.message).toContain('drive-relative');
    });
    it('treats a trailing colon as the default type', () => {
      expect(win('a.txt:')).toEqual({ path: 'a.txt' });
      expect(win('a.txt')).toEqual({ path: 'a.txt' });
    });
  });

  describe('Unix', () => {
    const unix = (arg: string) => parseFileArg(arg, 'linux');
    it('splits at the last colon', () => {
      expect(unix('my:file:')).toEqual({ path: 'my:file' });
      expect(unix('my:file:application/vnd.example.file')).toEqual({ path: 'my:file', mediaType: 'application/vnd.example.file' });
      expect(unix('a.txt')).toEqual({ path: 'a.txt' });
      expect(unix('a.txt:')).toEqual({ path: 'a.txt' });
      expect(unix('/abs/a.txt:text/plain')).toEqual({ path: '/abs/a.txt', mediaType: 'text/plain' });
    });
    it('refuses invalid media types and empty paths', () => {
      expect(thrown(() => unix('my:file')).message).toContain('invalid media type "file"');
      expect(thrown(() => unix('x:test:test:test')).kind).toBe('usage');
      expect(thrown(() => unix(':application/vnd.example.file')).message).toContain('empty file path');
    });
  });

  describe('titleOf', () => {
    it('uses / separators and never a drive letter', () => {
      expect(titleOf('C:\\Users\\me\\a.txt', 'win32')).toBe('a.txt');
      expect(titleOf('C:\\Users\\me\\a.txt', 'linux')).toBe('a.txt');
      expect(titleOf('\\\\server\\share\\b.txt', 'win32')).toBe('b.txt');
      expect(titleOf('.\\KEYS', 'win32')).toBe('KEYS');
      expect(titleOf('dir\\sub\\a.txt', 'win32')).toBe('dir/sub/a.txt');
    });
    it('keeps a relative path as given, cleaned', () => {
      expect(titleOf('./a.txt', 'linux')).toBe('a.txt');
      expect(titleOf('dir/sub/', 'linux')).toBe('dir/sub');
      expect(titleOf('my:file', 'linux')).toBe('my:file');
      expect(titleOf('a\\b', 'linux')).toBe('a\\b');
      expect(titleOf('../up/x', 'linux')).toBe('../up/x');
    });
    it('names an absolute Unix path by its base name', () => {
      expect(titleOf('/tmp/work/a.txt', 'linux')).toBe('a.txt');
      expect(titleOf('/tmp/work/dir/', 'linux')).toBe('dir');
    });
  });
});

describe('B31: file mode annotation and pull modes', () => {
  it('formats and parses permission bits', () => {
    expect(fileMode(0o100755)).toBe('0755');
    expect(fileMode(0o4755)).toBe('0755');
    expect(fileMode(0o400)).toBe('0400');
    expect(parseFileMode('0755')).toBe(0o755);
    expect(parseFileMode('644')).toBe(0o644);
    expect(parseFileMode('4755')).toBe(0o755);
    for (const bad of [undefined, '', 'rwxr-xr-x', '0999', '12345', '0x1ff']) expect(parseFileMode(bad)).toBeUndefined();
  });

  it('keeps the owner bits, applies the umask to the rest, drops special bits', () => {
    expect(pullMode(0o777, { umask: 0o022 })).toBe(0o755);
    expect(pullMode(0o400, { umask: 0o022 })).toBe(0o400);
    expect(pullMode(0o777, { umask: 0o077 })).toBe(0o700);
    expect(pullMode(0o755, { umask: 0o277 })).toBe(0o755 & ~0o077);
    expect(pullMode(0o4755, { umask: 0o022 })).toBe(0o755);
    expect(pullMode(0o500, { umask: 0o022, directory: true })).toBe(0o700);
    expect(pullMode(0o4777, { umask: 0o022, preservePermissions: true })).toBe(0o4777);
  });
});
