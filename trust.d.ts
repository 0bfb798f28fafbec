/**
 * The certificates this Node process's own `https` trusts by default, and where they came from
 * (see trust.js): what an exchange without `ca` trusts.
 */
export interface DefaultTrust {
  /** PEM certificates, in Node's order; may hold duplicates, as Node's own lists do. */
  readonly certificates: readonly string[]
  /**
   * Where they came from, in this order: `'bundled'` (Node's Mozilla roots), `'system'`
   * (`--use-system-ca`, `NODE_USE_SYSTEM_CA=1`), `'openssl'` (`--use-openssl-ca`, or a Node built
   * to use OpenSSL's store), `'NODE_EXTRA_CA_CERTS'`, or `'setDefaultCACertificates'` alone.
   */
  readonly sources: readonly string[]
}

/**
 * Node's default trusted certificates now; the same frozen object while they are unchanged.
 * Throws only what `tls.getCACertificates()` throws.
 */
export declare function defaultTrust(): DefaultTrust
