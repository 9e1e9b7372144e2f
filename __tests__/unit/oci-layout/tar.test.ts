/** A layout tar archive (`tar -cf x.tar -C layout .`, skopeo oci-archive:) opens read-only through a temporary extraction. */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OciLayoutStore } from '../../../src/content/oci-layout/store.js';
import { looksLikeTar } from '../../../src/content/oci-layout/tar.js';
import { BUSYBOX_OCI, BUSYBOX_OCI_DIR } from '../../helpers/fixtures.js';
import { tmpDir } from '../../helpers/tmp.js';
import { buildStoreForChildren, expectKind, layoutEntries, makeTar, readAll, sha256 } from './helpers.js';

const LAYOUT_FILES = ['oci-layout', 'index.json', ...readdirSync(join(BUSYBOX_OCI_DIR, 'blobs/sha256')).map((h) => `blobs/sha256/${h}`)];

let tmp: string;
/** Extract into a private folder, to see what is left there. */
beforeEach(() => {
  tmp = tmpDir('lading-layout-tmp-');
});
const open = (path: string) => OciLayoutStore.open(path, { tempDir: tmp });

async function expectBusybox(s: OciLayoutStore): Promise<void> {
  expect(await s.tags()).toEqual(['arm64-variant', 'latest', 'multi']);
  expect(await s.resolve('latest')).toEqual(BUSYBOX_OCI.latest.manifest);
  for (const desc of [BUSYBOX_OCI.latest.manifest, BUSYBOX_OCI.latest.config, ...BUSYBOX_OCI.latest.layers]) {
    expect(sha256(await readAll(await s.fetch(desc)))).toBe(desc.digest);
  }
}

describe('layout tar archives', () => {
  it('reads `tar -cf x.tar -C layout .`, refuses writes, and removes its extraction on close', async () => {
    const archive = join(tmpDir('lading-layout-'), 'busybox.tar');
    execFileSync('tar', ['-cf', archive, '-C', BUSYBOX_OCI_DIR, '.']);
    const s = await open(archive);
    expect(s.path).toBe(archive);
    expect(s.readOnly).toBe(true);
    expect(s.root.startsWith(tmp)).toBe(true);
    await expectBusybox(s);
    await expectKind(s.tag(BUSYBOX_OCI.latest.manifest, 'x'), 'unsupported', /tar archive, read-only/);
    await expectKind(s.delete(BUSYBOX_OCI.latest.manifest), 'unsupported');
    expect(readdirSync(tmp).length).toBe(1);
    await s.close();
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('reads an archive whose layout is one folder down (`tar -cf x.tar layout`)', async () => {
    const archive = join(tmpDir('lading-layout-'), 'busybox.tar');
    execFileSync('tar', ['-cf', archive, '-C', dirname(BUSYBOX_OCI_DIR), basename(BUSYBOX_OCI_DIR)]);
    const s = await open(archive);
    await expectBusybox(s);
    await s.close();
  });

  it('recognises a tar archive by its content whatever its name; PAX path headers are read', async () => {
    const entries = layoutEntries(BUSYBOX_OCI_DIR, LAYOUT_FILES).map((e, i) => ({ ...e, pax: i % 2 === 0 }));
    const archive = join(tmpDir('lading-layout-'), 'layout.archive');
    writeFileSync(archive, makeTar([{ name: 'blobs/', type: '5' }, ...entries]));
    expect(looksLikeTar(readFileSync(archive).subarray(0, 512))).toBe(true);
    const s = await open(archive);
    await expectBusybox(s);
    await s.close();
  });

  it('copies hard-linked files', async () => {
    const files = layoutEntries(BUSYBOX_OCI_DIR, LAYOUT_FILES.filter((f) => !f.endsWith(BUSYBOX_OCI.latest.config.digest.slice(7))));
    const config = `blobs/sha256/${BUSYBOX_OCI.latest.config.digest.slice(7)}`;
    const archive = join(tmpDir('lading-layout-'), 'links.tar');
    writeFileSync(archive, makeTar([...files, { name: 'spare-config', data: readFileSync(join(BUSYBOX_OCI_DIR, config)) }, { name: config, type: '1', linkName: 'spare-config' }]));
    const s = await open(archive);
    await expectBusybox(s);
    await s.close();
  });

  it.each([
    ['a path with ..', '../escaped', 'usage', /escapes the layout folder/],
    ['a nested path with ..', 'blobs/../../escaped', 'usage', /escapes the layout folder/],
    ['an absolute path', '/tmp/escaped', 'usage', /absolute path/],
    ['a Windows drive path', 'C:/escaped', 'usage', /absolute path/],
  ])('refuses %s, writes nothing outside and leaves no extraction behind', async (_what, name, kind, message) => {
    const outer = tmpDir('lading-layout-');
    const archive = join(outer, 'evil.tar');
    writeFileSync(archive, makeTar([...layoutEntries(BUSYBOX_OCI_DIR, ['oci-layout', 'index.json']), { name, data: 'pwned' }]));
    await expectKind(open(archive), kind, message);
    expect(readdirSync(outer)).toEqual(['evil.tar']);
    expect(existsSync('/tmp/escaped')).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('refuses symbolic links, and a hard link that points outside', async () => {
    const base = layoutEntries(BUSYBOX_OCI_DIR, ['oci-layout', 'index.json']);
    const sym = join(tmpDir('lading-layout-'), 'sym.tar');
    writeFileSync(sym, makeTar([...base, { name: 'blobs', type: '2', linkName: '/etc' }]));
    await expectKind(open(sym), 'unsupported', /symbolic link/);
    const hard = join(tmpDir('lading-layout-'), 'hard.tar');
    writeFileSync(hard, makeTar([...base, { name: 'passwd', type: '1', linkName: '../../../etc/passwd' }]));
    await expectKind(open(hard), 'usage', /escapes/);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('refuses a truncated archive, a corrupt header, and an archive without oci-layout', async () => {
    const dir = tmpDir('lading-layout-');
    const full = makeTar(layoutEntries(BUSYBOX_OCI_DIR, ['oci-layout', 'index.json']));
    writeFileSync(join(dir, 'cut.tar'), full.subarray(0, 700));
    await expectKind(open(join(dir, 'cut.tar')), 'usage', /truncated/);
    const corrupt = Buffer.from(full);
    corrupt[1030] ^= 0xff; // inside the second header's name
    writeFileSync(join(dir, 'corrupt.tar'), corrupt);
    await expectKind(open(join(dir, 'corrupt.tar')), 'usage', /checksum/);
    writeFileSync(join(dir, 'nolayout.tar'), makeTar([{ name: 'index.json', data: '{}' }]));
    await expectKind(open(join(dir, 'nolayout.tar')), 'usage', /no oci-layout file/);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('removes the extraction when the process exits without close()', async () => {
    const build = buildStoreForChildren();
    const archive = join(tmpDir('lading-layout-'), 'busybox.tar');
    execFileSync('tar', ['-cf', archive, '-C', BUSYBOX_OCI_DIR, '.']);
    const script = join(build, 'open-archive.mjs');
    writeFileSync(script, `import { OciLayoutStore } from './content/oci-layout/store.js';\nconst s = await OciLayoutStore.open(process.argv[2], { tempDir: process.argv[3] });\nconsole.log(s.root);\n`);
    const root = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [script, archive, tmp], (err, out) => (err ? reject(err) : resolve(out.trim()))),
    );
    expect(root.startsWith(tmp)).toBe(true);
    expect(existsSync(root)).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe('looksLikeTar', () => {
  it('tells tar headers from other files', () => {
    expect(looksLikeTar(makeTar([{ name: 'x', data: 'y' }]).subarray(0, 512))).toBe(true);
    expect(looksLikeTar(Buffer.alloc(512))).toBe(false);
    expect(looksLikeTar(Buffer.alloc(512, 'a'))).toBe(false);
    expect(looksLikeTar(Buffer.from('short'))).toBe(false);
  });
});
