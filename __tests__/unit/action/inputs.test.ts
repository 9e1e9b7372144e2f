import { describe, expect, it } from '@jest/globals';
import { InputError, listInput, parseInputs, toCliArgs } from '../../../src/action/inputs.js';

const inputs = (values: Record<string, string>) => (name: string) => values[name] ?? '';

describe('action inputs', () => {
  it('parses a push into a typed object and CLI arguments, the password kept out of argv', () => {
    const i = parseInputs(inputs({ command: 'manifest-push', reference: 'r.example/a/b:v1', file: 'm.json', tags: 'v2\nv3', username: 'u', password: 's3cret!', 'plain-http': 'true' }));
    expect(i).toMatchObject({ command: 'manifest-push', reference: 'r.example/a/b:v1', file: 'm.json', tags: ['v2', 'v3'], username: 'u', password: 's3cret!', plainHttp: true, insecure: false, summary: true });
    const args = toCliArgs(i);
    expect(args).toEqual(['manifest', 'push', 'r.example/a/b:v1,v2,v3', 'm.json', '--format', 'json', '--username', 'u', '--password-stdin', '--plain-http=true']);
    expect(args.join(' ')).not.toContain('s3cret!');
  });

  it.each([
    [{}, 'input "command" is required'],
    [{ command: 'push-it' }, 'unknown command "push-it"'],
    [{ command: 'manifest-fetch' }, 'command "manifest-fetch" needs the input "reference"'],
    [{ command: 'blob-push', reference: 'r.example/a' }, 'needs the input "file"'],
    [{ command: 'blob-fetch', reference: 'r.example/a@sha256:x' }, 'needs the input "output"'],
    [{ command: 'tag', reference: 'r.example/a:1' }, 'needs the input "tags"'],
    [{ command: 'resolve', reference: 'r.example/a:1', tags: 'x' }, 'input "tags" does not apply'],
    [{ command: 'resolve', reference: 'r.example/a:1', password: 'p' }, 'input "password" needs "username"'],
    [{ command: 'resolve', reference: 'r.example/a:1', username: 'u' }, 'input "username" needs "password"'],
    [{ command: 'resolve', reference: 'r.example/a:1', insecure: 'maybe' }, 'input "insecure" must be true or false'],
    [{ command: 'tag', reference: 'r.example/a:1', tags: 'x', platform: 'linux/amd64' }, 'input "platform" does not apply'],
    [{ command: 'tag', reference: 'r.example/a:1', tags: 'x', 'media-type': 'a/b' }, 'input "media-type" does not apply'],
    [{ command: 'push', reference: 'r.example/a:1' }, 'command "push" needs the input "files"'],
    [{ command: 'attach', reference: 'r.example/a:1', files: 'x' }, 'command "attach" needs the input "artifact-type"'],
    [{ command: 'pull', reference: 'r.example/a:1', files: 'x' }, 'input "files" does not apply to command "pull"'],
    [{ command: 'push', reference: 'r.example/a:1', files: 'x', annotations: 'novalue' }, 'annotation "novalue" is not KEY=VALUE'],
    [{ command: 'repo-ls', reference: 'r.example', 'oci-layout': 'true' }, 'input "oci-layout" does not apply to command "repo-ls"'],
    [{ command: 'pull', reference: 'r.example/a:1', annotations: 'a=b' }, 'input "annotations" does not apply to command "pull"'],
  ])('rejects %j with a clear message', (values, message) => {
    expect(() => parseInputs(inputs(values as Record<string, string>))).toThrow(InputError);
    expect(() => parseInputs(inputs(values as Record<string, string>))).toThrow(message);
  });

  it('splits list inputs on lines, commas and spaces', () => {
    expect(listInput('v1\n v2 ,v3\n\n')).toEqual(['v1', 'v2', 'v3']);
  });

  it('deletes without a prompt (the step is the confirmation)', () => {
    expect(toCliArgs(parseInputs(inputs({ command: 'manifest-delete', reference: 'r.example/a:1' })))).toEqual(['manifest', 'delete', 'r.example/a:1', '--force', '--format', 'json']);
  });

  it('maps artifact inputs: files and annotations one per line (spaces and commas kept), tags joined to the reference', () => {
    const i = parseInputs(inputs({ command: 'push', reference: 'r.example/a:v1', files: 'my file.txt\ndist/app,v2.tgz:application/x-tar\n', tags: 'latest', annotations: 'k=v, with comma\nx=y', 'artifact-type': 'application/x.t', 'oci-layout': 'false' }));
    expect(toCliArgs(i)).toEqual(['push', 'r.example/a:v1,latest', 'my file.txt', 'dist/app,v2.tgz:application/x-tar', '--format', 'json', '--artifact-type', 'application/x.t', '--annotation', 'k=v, with comma', '--annotation', 'x=y']);
    const pull = parseInputs(inputs({ command: 'pull', reference: './layout:v1', 'oci-layout': 'true', output: 'out' }));
    expect(toCliArgs(pull)).toEqual(['pull', './layout:v1', '--output', 'out', '--format', 'json', '--oci-layout']);
  });
});

describe('action inputs for copy and convert', () => {
  it('maps per-side credentials, side inputs winning over username/password, and refuses the password on stdin', () => {
    const i = parseInputs(inputs({ command: 'copy', source: 'a.example/x:1', destination: 'b.example/y:1', tags: 'latest', recursive: 'true', username: 'u', password: 'p', 'destination-username': 'du', 'destination-password': 'dp' }));
    expect(toCliArgs(i)).toEqual(['copy', 'a.example/x:1', 'b.example/y:1,latest', '--recursive', '--format', 'json', '--from-username', 'u', '--from-password', 'p', '--to-username', 'du', '--to-password', 'dp']);
    const c = parseInputs(inputs({ command: 'convert', source: './layout:v1', destination: 'b.example/y:oci', to: 'oci', 'source-oci-layout': 'true', 'plain-http': 'true' }));
    expect(toCliArgs(c)).toEqual(['convert', './layout:v1', 'b.example/y:oci', '--to', 'oci', '--format', 'json', '--from-oci-layout', '--to-plain-http=true']);
  });

  it.each([
    [{ command: 'copy', destination: 'b.example/y' }, 'command "copy" needs the input "source"'],
    [{ command: 'convert', source: 'a.example/x:1', destination: 'b.example/y' }, 'command "convert" needs the input "to": oci or docker'],
    [{ command: 'copy', source: 'a.example/x:1', destination: 'b.example/y', reference: 'c.example/z' }, 'takes "source" and "destination", not "reference"'],
    [{ command: 'copy', source: 'a.example/x:1', destination: 'b.example/y', 'source-username': 'u' }, 'inputs "source-username" and "source-password" go together'],
    [{ command: 'resolve', reference: 'a.example/x:1', source: 'a.example/x:1' }, 'input "source" applies only to copy and convert'],
    [{ command: 'convert', source: 'a.example/x:1', destination: 'b.example/y', to: 'oci', recursive: 'true' }, 'input "recursive" applies only to copy'],
    [{ command: 'resolve', reference: 'a.example/x:1', 'all-tags': 'true' }, 'input "all-tags" applies only to copy'],
  ])('rejects %j', (values, message) => {
    expect(() => parseInputs(inputs(values as Record<string, string>))).toThrow(message);
  });
});

describe('action inputs for blob-copy and image indexes', () => {
  it('maps them to the CLI', () => {
    expect(toCliArgs(parseInputs(inputs({ command: 'blob-copy', source: 'a.example/x@sha256:' + 'a'.repeat(64), destination: 'b.example/y' })))).toEqual(['blob', 'copy', 'a.example/x@sha256:' + 'a'.repeat(64), 'b.example/y', '--format', 'json']);
    expect(toCliArgs(parseInputs(inputs({ command: 'manifest-index-create', reference: 'r.example/app:1', manifests: 'amd64\narm64\n', tags: 'latest' })))).toEqual(['manifest', 'index', 'create', 'r.example/app:1,latest', 'amd64', 'arm64', '--format', 'json']);
    expect(toCliArgs(parseInputs(inputs({ command: 'manifest-index-update', reference: 'r.example/app:1', manifests: 'riscv64', remove: 'sha256:' + 'b'.repeat(64), merge: 'win' })))).toEqual(['manifest', 'index', 'update', 'r.example/app:1', '--add', 'riscv64', '--remove', 'sha256:' + 'b'.repeat(64), '--merge', 'win', '--format', 'json']);
  });

  it.each([
    [{ command: 'manifest-index-create', reference: 'r.example/app:1' }, 'needs the input "manifests"'],
    [{ command: 'manifest-index-update', reference: 'r.example/app:1' }, 'needs at least one of the inputs "manifests", "remove", "merge"'],
    [{ command: 'manifest-index-create', reference: 'r.example/app:1', manifests: 'a', remove: 'x' }, 'inputs "remove" and "merge" apply only to manifest-index-update'],
    [{ command: 'resolve', reference: 'r.example/app:1', manifests: 'a' }, 'apply only to manifest-index-create and manifest-index-update'],
    [{ command: 'blob-copy', destination: 'b.example/y' }, 'command "blob-copy" needs the input "source"'],
  ])('rejects %j', (values, message) => {
    expect(() => parseInputs(inputs(values as Record<string, string>))).toThrow(message);
  });
});
