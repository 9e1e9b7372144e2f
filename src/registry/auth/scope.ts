/**
 * Registry token scopes (distribution token spec: `type:name:actions`), modelled on oras-go
 * `registry/remote/auth/scope.go`. Scopes are treated as opaque strings except for merging the
 * actions of the same resource; anything that is not `type:name:actions` is kept verbatim (CASES B04).
 */

/** Deduplicated, sorted actions; `*` absorbs every other action. */
function cleanActions(actions: string[]): string[] {
  const set = new Set(actions.map((a) => a.trim()).filter((a) => a !== ''));
  if (set.has('*')) return ['*'];
  return [...set].sort();
}

/** `repository:team/app:pull,push` for a repository and its actions. */
export function repositoryScope(repo: string, actions: string[]): string {
  return `repository:${repo}:${cleanActions(actions).join(',')}`;
}

/**
 * Union of scopes: actions merged per resource (`repository:a:pull` + `repository:a:push` →
 * `repository:a:pull,push`), opaque scopes (`aws`, `registry:catalog`) kept verbatim, empty ones
 * dropped, a space-separated list split. The output is sorted and each scope appears once, so the
 * same set always gives the same token cache key and the same token query (CASES B07).
 */
export function mergeScopes(scopes: readonly string[]): string[] {
  const resources = new Map<string, string[]>(); // "type:name" -> actions
  const opaque = new Set<string>();
  for (const scope of scopes.flatMap((s) => s.split(/\s+/))) {
    if (scope === '') continue;
    // type is before the first ':', actions after the last one; the name may itself hold ':'.
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    const actions = cleanActions(scope.slice(last + 1).split(','));
    if (first <= 0 || first === last || actions.length === 0) {
      opaque.add(scope);
      continue;
    }
    const resource = scope.slice(0, last);
    resources.set(resource, [...(resources.get(resource) ?? []), ...actions]);
  }
  const out = new Set(opaque);
  for (const [resource, actions] of resources) out.add(`${resource}:${cleanActions(actions).join(',')}`);
  return [...out].sort();
}
