/**
 * The step's outputs, derived from the command's JSON result, and the check that none of them holds a
 * registered secret. Pure: no I/O, no @actions imports.
 */
import { Output } from './inputs.js';

/** Paths a pull wrote, or titles a push/attach uploaded. */
export function fileNames(files: unknown[]): string[] {
  return files.map((f) => {
    const o = f as { path?: string; title?: string };
    return o.path ?? o.title ?? '';
  });
}

/**
 * `digest`, `reference` and `json` always; `tags` (a JSON list), `media-type`, `size` and `files` (a JSON
 * list) when the result has them.
 */
export function resultOutputs(json: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {
    [Output.digest]: typeof json.digest === 'string' ? json.digest : '',
    [Output.reference]: typeof json.reference === 'string' ? json.reference : '',
    [Output.json]: JSON.stringify(json),
  };
  if (Array.isArray(json.tags)) out[Output.tags] = JSON.stringify(json.tags.map(String));
  if (typeof json.mediaType === 'string') out[Output.mediaType] = json.mediaType;
  if (typeof json.size === 'number') out[Output.size] = String(json.size);
  if (Array.isArray(json.files)) out[Output.files] = JSON.stringify(fileNames(json.files));
  return out;
}

export class SecretInOutputError extends Error {}

/**
 * Throws, naming the first output that holds one of `secrets` (never the secret itself): the runner would
 * mask it, and drop it from job outputs, without telling anyone (CASES B35).
 */
export function assertNoSecrets(outputs: Record<string, string>, secrets: Iterable<string>): void {
  const list = [...secrets].filter((s) => s !== '');
  for (const [name, value] of Object.entries(outputs)) {
    if (list.some((s) => value.includes(s))) {
      throw new SecretInOutputError(
        `output "${name}" would contain a password or token given to this step, so the runner would mask it (and drop it from job outputs); no output was set. Keep secrets out of repository names, tags, annotations and file names`,
      );
    }
  }
}
