/**
 * The Action's inputs, parsed into a typed object by a pure function (no I/O, no @actions imports),
 * and turned into the CLI's arguments. Contradictions fail here, before any network call.
 */
import { parseChunkSize } from '../registry/upload.js';
import { parseRegistryAuth, RegistryAuthError, type RegistryAuthEntry } from './registry-auth.js';

export const COMMANDS = [
  'setup',
  'copy',
  'convert',
  'blob-copy',
  'manifest-index-create',
  'manifest-index-update',
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

/** Commands with a source and a destination (per-side credentials) instead of one reference. */
export function isTwoSided(command: ActionCommand): boolean {
  return command === 'copy' || command === 'convert' || command === 'blob-copy';
}


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
  /** manifest-index-create sources / manifest-index-update --add, one per line. */
  manifests: string[];
  remove: string[];
  merge: string[];
  source?: string;
  destination?: string;
  recursive: boolean;
  to?: 'oci' | 'docker';
  allTags: boolean;
  sourceOciLayout: boolean;
  destinationOciLayout: boolean;
  sourceUsername?: string;
  sourcePassword?: string;
  destinationUsername?: string;
  destinationPassword?: string;
  /** The registry `username`/`password` are for (default: the host of `reference`). */
  registry?: string;
  /** Credentials for several registries (the `registry-auth` YAML list). */
  registryAuth: RegistryAuthEntry[];
  /** Token for ghcr.io when no credentials are given for it (default `${{ github.token }}` in action.yml). */
  githubToken?: string;
  /** Store credentials in the user's Docker config instead of the Action's own config for the job. */
  dockerConfig: boolean;
  /** The post step removes what this step stored. */
  logout: boolean;
  /** `--chunk-size` (push, attach, blob-push) or copy's `--to-chunk-size` (copy, blob-copy), as given. */
  chunkSize?: string;
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
  manifests: 'manifests',
  remove: 'remove',
  merge: 'merge',
  source: 'source',
  destination: 'destination',
  recursive: 'recursive',
  to: 'to',
  allTags: 'all-tags',
  sourceOciLayout: 'source-oci-layout',
  destinationOciLayout: 'destination-oci-layout',
  sourceUsername: 'source-username',
  sourcePassword: 'source-password',
  destinationUsername: 'destination-username',
  destinationPassword: 'destination-password',
  registry: 'registry',
  registryAuth: 'registry-auth',
  githubToken: 'github-token',
  dockerConfig: 'docker-config',
  logout: 'logout',
  chunkSize: 'chunk-size',
} as const;

/** Names of the outputs in action.yml. */
export const Output = {
  digest: 'digest',
  reference: 'reference',
  tags: 'tags',
  mediaType: 'media-type',
  size: 'size',
  json: 'json',
  files: 'files',
  version: 'version',
} as const;

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
    manifests: linesInput(get(Input.manifests)),
    remove: linesInput(get(Input.remove)),
    merge: linesInput(get(Input.merge)),
    source: opt(Input.source),
    destination: opt(Input.destination),
    recursive: bool(Input.recursive, get(Input.recursive), false)!,
    to: opt(Input.to) as ActionInputs['to'],
    allTags: bool(Input.allTags, get(Input.allTags), false)!,
    sourceOciLayout: bool(Input.sourceOciLayout, get(Input.sourceOciLayout), false)!,
    destinationOciLayout: bool(Input.destinationOciLayout, get(Input.destinationOciLayout), false)!,
    sourceUsername: opt(Input.sourceUsername),
    sourcePassword: get(Input.sourcePassword) === '' ? undefined : get(Input.sourcePassword),
    destinationUsername: opt(Input.destinationUsername),
    destinationPassword: get(Input.destinationPassword) === '' ? undefined : get(Input.destinationPassword),
    registry: opt(Input.registry),
    registryAuth: [],
    githubToken: opt(Input.githubToken),
    dockerConfig: bool(Input.dockerConfig, get(Input.dockerConfig), false)!,
    logout: bool(Input.logout, get(Input.logout), true)!,
    chunkSize: opt(Input.chunkSize),
  };
  // registry-auth is a whole set of credentials: mixing it with the single-registry inputs has no one meaning.
  if (get(Input.registryAuth).trim() !== '') {
    for (const name of [Input.username, Input.password, Input.registry]) {
      if (get(name).trim() !== '') {
        throw new InputError(`inputs "registry-auth" and "${name}" cannot be used together: give every registry's credentials in "registry-auth"`);
      }
    }
    try {
      inputs.registryAuth = parseRegistryAuth(get(Input.registryAuth));
    } catch (err) {
      if (err instanceof RegistryAuthError) throw new InputError(err.message);
      throw err;
    }
  }
  if (inputs.registry && inputs.username === undefined) throw new InputError('input "registry" needs "username" and "password"');
  if (command === 'logout' && (inputs.username || inputs.registry || inputs.registryAuth.length > 0)) {
    throw new InputError('command "logout" takes no credentials: it removes the stored ones for "reference"');
  }
  const twoSided = isTwoSided(command);
  const need = (field: keyof ActionInputs, input: string) => {
    if (inputs[field] === undefined) throw new InputError(`command "${command}" needs the input "${input}"`);
  };
  if (twoSided) {
    need('source', Input.source);
    need('destination', Input.destination);
    if (inputs.reference) throw new InputError(`command "${command}" takes "source" and "destination", not "reference"`);
    if (command === 'convert' && inputs.to !== 'oci' && inputs.to !== 'docker') throw new InputError('command "convert" needs the input "to": oci or docker');
    for (const [u, p, side] of [[inputs.sourceUsername, inputs.sourcePassword, 'source'], [inputs.destinationUsername, inputs.destinationPassword, 'destination']] as const) {
      if (Boolean(u) !== (p !== undefined)) throw new InputError(`inputs "${side}-username" and "${side}-password" go together`);
    }
  } else {
    for (const name of [Input.source, Input.destination, Input.to, Input.sourceUsername, Input.sourcePassword, Input.destinationUsername, Input.destinationPassword]) {
      if (get(name).trim() !== '') throw new InputError(`input "${name}" applies only to copy and convert`);
    }
    if (inputs.recursive || inputs.allTags) throw new InputError(`input "${inputs.recursive ? 'recursive' : 'all-tags'}" applies only to copy`);
  }
  if (command === 'convert' && (inputs.recursive || inputs.allTags)) throw new InputError(`input "${inputs.recursive ? 'recursive' : 'all-tags'}" applies only to copy`);
  if (inputs.to && command !== 'convert') throw new InputError('input "to" applies only to convert');
  // login: the registry input names the host too (one of them is enough; both must agree).
  if (command === 'login' && inputs.registry) {
    if (!inputs.reference) inputs.reference = inputs.registry;
    else if (inputs.reference.replace(/^https?:\/\//i, '').split('/')[0].toLowerCase() !== inputs.registry.replace(/^https?:\/\//i, '').split('/')[0].toLowerCase()) {
      throw new InputError('command "login": "registry" and "reference" name different hosts; give one of them');
    }
  }
  if (command !== 'version' && command !== 'setup' && !twoSided) need('reference', Input.reference);
  if (command === 'manifest-index-create' && inputs.manifests.length === 0) throw new InputError('command "manifest-index-create" needs the input "manifests" (one tag or digest per line)');
  if (command === 'manifest-index-update' && inputs.manifests.length + inputs.remove.length + inputs.merge.length === 0) {
    throw new InputError('command "manifest-index-update" needs at least one of the inputs "manifests", "remove", "merge"');
  }
  if (!command.startsWith('manifest-index-') && inputs.manifests.length + inputs.remove.length + inputs.merge.length > 0) {
    throw new InputError(`inputs "manifests", "remove" and "merge" apply only to manifest-index-create and manifest-index-update`);
  }
  if (command === 'manifest-index-create' && inputs.remove.length + inputs.merge.length > 0) throw new InputError('inputs "remove" and "merge" apply only to manifest-index-update');
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
  if (!['tag', 'manifest-push', 'push', 'copy', 'convert', 'manifest-index-create', 'manifest-index-update'].includes(command) && inputs.tags.length > 0) throw new InputError(`input "tags" does not apply to command "${command}"`);
  if (inputs.password !== undefined && !inputs.username) throw new InputError('input "password" needs "username"');
  if (inputs.username && inputs.password === undefined) throw new InputError('input "username" needs "password"');
  if (inputs.platform && !['manifest-fetch', 'manifest-fetch-config', 'resolve', 'pull', 'attach', 'discover'].includes(command)) {
    throw new InputError(`input "platform" does not apply to command "${command}"`);
  }
  if (inputs.chunkSize !== undefined) {
    if (!['push', 'attach', 'blob-push', 'copy', 'blob-copy'].includes(command)) throw new InputError(`input "chunk-size" does not apply to command "${command}"`);
    try {
      parseChunkSize(inputs.chunkSize, 'input "chunk-size"');
    } catch (err) {
      throw new InputError((err as Error).message);
    }
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
    'blob-copy': ['blob', 'copy', i.source ?? '', i.destination ?? ''],
    'manifest-index-create': ['manifest', 'index', 'create', [ref, ...i.tags].join(','), ...i.manifests],
    'manifest-index-update': ['manifest', 'index', 'update', [ref, ...i.tags].join(','), ...i.manifests.flatMap((m) => ['--add', m]), ...i.remove.flatMap((d) => ['--remove', d]), ...i.merge.flatMap((m) => ['--merge', m])],
    copy: ['copy', i.source ?? '', [i.destination ?? '', ...i.tags].join(','), ...(i.recursive ? ['--recursive'] : []), ...(i.allTags ? ['--all-tags'] : [])],
    convert: ['convert', i.source ?? '', [i.destination ?? '', ...i.tags].join(','), '--to', i.to ?? ''],
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
    setup: ['version'],
  };
  const args = [...base[i.command], '--format', 'json'];
  if (i.command === 'version') return args;
  if (isTwoSided(i.command)) return [...args, ...twoSidedArgs(i)];
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
  if (i.chunkSize) args.push('--chunk-size', i.chunkSize);
  return args;
}

/**
 * Per-side flags for copy and convert. The CLI runs in-process, so passwords given here as arguments
 * are never visible to other processes; the side-specific inputs win over username/password.
 */
function twoSidedArgs(i: ActionInputs): string[] {
  const args: string[] = [];
  const sides = [
    ['from', i.sourceUsername ?? i.username, i.sourcePassword ?? (i.sourceUsername ? undefined : i.password), i.sourceOciLayout],
    ['to', i.destinationUsername ?? i.username, i.destinationPassword ?? (i.destinationUsername ? undefined : i.password), i.destinationOciLayout],
  ] as const;
  for (const [side, user, password, layout] of sides) {
    if (layout) {
      args.push(`--${side}-oci-layout`);
      continue;
    }
    if (user && password !== undefined) args.push(`--${side}-username`, user, `--${side}-password`, password);
    if (i.plainHttp !== undefined) args.push(`--${side}-plain-http=${i.plainHttp}`);
    if (i.insecure) args.push(`--${side}-insecure`);
    if (i.caFile) args.push(`--${side}-ca-file`, i.caFile);
    if (i.registryConfig) args.push(`--${side}-registry-config`, i.registryConfig);
  }
  if (i.platform) args.push('--platform', i.platform);
  if (i.chunkSize && !i.destinationOciLayout) args.push('--to-chunk-size', i.chunkSize);
  return args;
}
