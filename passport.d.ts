import type { ClientConfig, UserData, sip } from './index'

/**
 * What the strategy reads an auth code from: Passport's request (Express's, Koa's through
 * koa-passport, or Node's own with a body parsed by the app).
 */
export interface AuthCodeRequest {
  /** The parsed body: the auth code is its `authCodeField` (default `authCode`). */
  body?: unknown
  /** The parsed query string, read when the body has no auth code. */
  query?: unknown
}

/** Passport's `done`: an error, or the app's user (`false` for "not signed in"), and an info object. */
export type VerifiedCallback = (error: unknown, user?: unknown, info?: unknown) => void

export interface StrategyOwnOptions {
  /** The strategy's name for `passport.authenticate(name)`. Default `'civic'`. */
  name?: string
  /**
   * The request body's field holding the auth code, then the query's. Default `'authCode'`.
   * A missing, empty or non-string auth code fails with status 400.
   */
  authCodeField?: string
}

/** The client: its configuration, as for `newClient`, or a client made with `newClient`. */
export type StrategyClientOptions = ClientConfig | { client: sip }

export type StrategyOptions = StrategyOwnOptions & StrategyClientOptions & { passReqToCallback?: false }
export type StrategyOptionsWithRequest = StrategyOwnOptions & StrategyClientOptions & { passReqToCallback: true }

/**
 * A Passport strategy for "Sign in with Civic". It takes the auth code from the request,
 * exchanges it (`exchangeCode`) and calls `verify` with the user data.
 *
 * - Civic refuses the auth code itself (status 400, 410 or 422: malformed, used, expired):
 *   an authentication failure, `fail({ message, code, error }, 401)`.
 * - Everything else (configuration, network, timeout, verification and decryption failures,
 *   Civic's 401 and 403 for the app's own credentials, 404, 429, 5xx): `error(err)`, the error as
 *   `exchangeCode` rejected with it, `code` included; Express answers it with 500.
 * - `verify`'s `done(null, false, info)`: `fail(info)`; `done(err)` or a throw: `error(err)`.
 *
 * Passport is an optional peer dependency: this module does not load it.
 */
export declare class Strategy {
  constructor(options: StrategyOptions, verify: (userData: UserData, done: VerifiedCallback) => void)
  constructor(options: StrategyOptionsWithRequest, verify: (req: any, userData: UserData, done: VerifiedCallback) => void)
  /** `'civic'` unless set. */
  name: string
  /** Called by Passport; not for the app. */
  authenticate(req: AuthCodeRequest, options?: unknown): void
}
