/** A credential for one registry, as read from flags, config.json or a credential helper. */
export interface Credential {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (`identitytoken`, or a helper's `Username: "<token>"`): exchanged for an access token, never sent as Basic (B10). */
  identityToken?: string;
  /** A ready bearer token for the registry (`registrytoken`). */
  registryToken?: string;
}

/** Looks up the credential for a canonical registry name (`docker.io`, `registry.example:5000`, `[2001:db8::1]:5000`). */
export type CredentialProvider = (registry: string) => Promise<Credential | undefined>;
