/**
 * The Action's inputs, parsed into a typed object by a pure function (no I/O, no @actions imports),
 * and turned into the CLI's arguments. Contradictions fail here, before any network call.
 */
export const COMMANDS = [
  'push',
  'pull',
  'attach',
  'discover',
  'manifest-fetch',
  'manifest-fetch-config',
  'manifest-push',
  'manifest-delete',
  'blob-fetch',
  'blob-push',
  'blob-delete',
  'tag',
  'repo-tags',
  'repo-ls',
  'resolve',
  'login',
  'logout',
  'version',
] as const;
export type ActionCommand = (typeof COMMANDS)[number];

export interface ActionInputs {
  command: ActionCommand;
  reference?: string;
  file?: string;
  output?: string;
  tags: string[];
  mediaType?: string;
  platform?: string;
  username?: string;
  password?: string;
  plainHttp?: boolean;
  insecure: boolean;
  caFile?: string;
  registryConfig?: string;
  summary: boolean;
  files: string[];
  artifactType?: string;
  annotations: string[];
  ociLayout: boolean;
}

export class InputError extends Error {}

/** Names of the inputs in action.yml. */
export const Input = {
  command: 'command',
  reference: 'reference',
  file: 'file',
  output: 'output',
  tags: 'tags',
  mediaType: 'media-type',
  platform: 'platform',
  username: 'username',
  password: 'password',
  plainHttp: 'plain-http',
  insecure: 'insecure',
  caFile: 'ca-file',
  registryConfig: 'registry-config',
  summary: 'summary',
  files: 'files',
  artifactType: 'artifact-type',
  annotations: 'annotations',
  ociLayout: 'oci-layout',
} as const;

/** Names of the outputs in action.yml. */
export const Output = { digest: 'digest', reference: 'reference', json: 'json', files: 'files' } as const;

/** Lines of a multi-line input, trimmed, blanks dropped (file paths and annotations may hold spaces and commas). */
export function linesInput(raw: string): string[] {
  return raw
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function bool(name: string, raw: string, fallback: boolean | undefined): boolean | undefined {
  const v = raw.trim().toLowerCase();
  if (v === '') return fallback;
  if (['true', 'yes', '1'].includes(v)) return true;
  if (['false', 'no', '0'].includes(v)) return false;
  throw new InputError(`input "${name}" must be true or false, got "${raw.trim()}"`);
}

/** Splits a list input: one item per line (commas and spaces also separate tags). */
export function listInput(raw: string): string[] {
  return raw
    .split(/[\n,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function parseInputs(get: (name: string) => string): ActionInputs {
  const opt = (name: string) => {
    const v = get(name).trim();
    return v === '' ? undefined : v;
  };
  const command = (opt(Input.command) ?? '') as ActionCommand;
  if (!COMMANDS.includes(command)) {
    throw new InputError(command ? `unknown command "${command}"; expected one of: ${COMMANDS.join(', ')}` : `input "command" is required; one of: ${COMMANDS.join(', ')}`);
  }
  const inputs: ActionInputs = {
    command,
    reference: opt(Input.reference),
    file: opt(Input.file),
    output: opt(Input.output),
    tags: listInput(get(Input.tags)),
    mediaType: opt(Input.mediaType),
    platform: opt(Input.platform),
    username: opt(Input.username),
    password: get(Input.password) === '' ? undefined : get(Input.password),
    plainHttp: bool(Input.plainHttp, get(Input.plainHttp), undefined),
    insecure: bool(Input.insecure, get(Input.insecure), false)!,
    caFile: opt(Input.caFile),
    registryConfig: opt(Input.registryConfig),
    summary: bool(Input.summary, get(Input.summary), true)!,
    files: linesInput(get(Input.files)),
    artifactType: opt(Input.artifactType),
    annotations: linesInput(get(Input.annotations)),
    ociLayout: bool(Input.ociLayout, get(Input.ociLayout), false)!,
  };
  const need = (field: keyof ActionInputs, input: string) => {
    if (inputs[field] === undefined) throw new InputError(`command "${command}" needs the input "${input}"`);
  };
  if (command !== 'version') need('reference', Input.reference);
  if (command === 'manifest-push' || command === 'blob-push') need('file', Input.file);
  if (command === 'blob-fetch') need('output', Input.output);
  const artifacts = command === 'push' || command === 'attach';
  if (artifacts && inputs.files.length === 0 && !(command === 'attach' && inputs.annotations.length > 0)) {
    throw new InputError(`command "${command}" needs the input "files" (one path[:mediatype] per line)`);
  }
  if (!artifacts && inputs.files.length > 0) throw new InputError(`input "files" does not apply to command "${command}"`);
  if (!artifacts && inputs.annotations.length > 0) throw new InputError(`input "annotations" does not apply to command "${command}"`);
  for (const a of inputs.annotations) if (!/^[^=]+=/.test(a)) throw new InputError(`annotation "${a}" is not KEY=VALUE`);
  if (command === 'attach' && !inputs.artifactType) throw new InputError('command "attach" needs the input "artifact-type"');
  if (inputs.artifactType && !artifacts && command !== 'discover') throw new InputError(`input "artifact-type" does not apply to command "${command}"`);
  if (inputs.ociLayout && ['repo-ls', 'login', 'logout', 'version'].includes(command)) throw new InputError(`input "oci-layout" does not apply to command "${command}"`);
  if (command === 'tag' && inputs.tags.length === 0) throw new InputError('command "tag" needs the input "tags" (one per line)');
  if (command !== 'tag' && command !== 'manifest-push' && command !== 'push' && inputs.tags.length > 0) throw new InputError(`input "tags" does not apply to command "${command}"`);
  if (inputs.password !== undefined && !inputs.username) throw new InputError('input "password" needs "username"');
  if (inputs.username && inputs.password === undefined) throw new InputError('input "username" needs "password"');
  if (command === 'login' && inputs.password === undefined) throw new InputError('command "login" needs "username" and "password"');
  if (inputs.platform && !['manifest-fetch', 'manifest-fetch-config', 'resolve', 'pull', 'attach', 'discover'].includes(command)) {
    throw new InputError(`input "platform" does not apply to command "${command}"`);
  }
  if (inputs.mediaType && !['manifest-fetch', 'manifest-push', 'blob-push'].includes(command)) {
    throw new InputError(`input "media-type" does not apply to command "${command}"`);
  }
  return inputs;
}

/** The CLI arguments for the inputs. The password is not among them: it goes on stdin. */
export function toCliArgs(i: ActionInputs): string[] {
  const ref = i.reference ?? '';
  const base: Record<ActionCommand, string[]> = {
    push: ['push', [ref, ...i.tags].join(','), ...i.files],
    pull: ['pull', ref, '--output', i.output ?? '.'],
    attach: ['attach', ref, ...i.files],
    discover: ['discover', ref],
    'manifest-fetch': ['manifest', 'fetch', ref, ...(i.output ? ['--output', i.output] : [])],
    'manifest-fetch-config': ['manifest', 'fetch-config', ref, ...(i.output ? ['--output', i.output] : [])],
    'manifest-push': ['manifest', 'push', [ref, ...i.tags].join(','), i.file ?? ''],
    'manifest-delete': ['manifest', 'delete', ref, '--force'],
    'blob-fetch': ['blob', 'fetch', ref, '--output', i.output ?? ''],
    'blob-push': ['blob', 'push', ref, i.file ?? ''],
    'blob-delete': ['blob', 'delete', ref, '--force'],
    tag: ['tag', ref, ...i.tags],
    'repo-tags': ['repo', 'tags', ref],
    'repo-ls': ['repo', 'ls', ref],
    resolve: ['resolve', ref],
    login: ['login', ref],
    logout: ['logout', ref],
    version: ['version'],
  };
  const args = [...base[i.command], '--format', 'json'];
  if (i.command === 'version') return args;
  if (i.registryConfig) args.push('--registry-config', i.registryConfig);
  if (i.command === 'logout') return args;
  if (i.mediaType) args.push('--media-type', i.mediaType);
  if (i.artifactType) args.push('--artifact-type', i.artifactType);
  for (const a of i.annotations) args.push('--annotation', a);
  if (i.ociLayout) args.push('--oci-layout');
  if (i.platform) args.push('--platform', i.platform);
  if (i.username) args.push('--username', i.username, '--password-stdin');
  if (i.plainHttp !== undefined) args.push(`--plain-http=${i.plainHttp}`);
  if (i.insecure) args.push('--insecure');
  if (i.caFile) args.push('--ca-file', i.caFile);
  return args;
}
