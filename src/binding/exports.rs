//! The module's plain exports: the error codes, the verification reasons, `redactUrl` and the
//! count of parsed root sets, each from the one place the core keeps it.

use napi::bindgen_prelude::*;
use napi::{sys, Env, JsValue};
use napi_derive::napi;

use crate::core::error::{code, Rejected};
use crate::core::http::tls::Roots;

/// Every `error.code` by its name (`{ CONFIG: 'ERR_CIVIC_CONFIG', ... }`), from the one list in
/// `core::error::code`; index.js re-exports it, frozen, as `codes`.
#[napi(js_name = "ERROR_CODES", skip_typescript)]
// Under `cargo test` napi-derive registers no export, so nothing would use these.
#[cfg_attr(test, allow(dead_code))]
pub const ERROR_CODES: ErrorCodes = ErrorCodes;

/// The value of [`ERROR_CODES`]: an object built from `core::error::code::ALL` when the module
/// loads.
#[cfg_attr(test, allow(dead_code))]
pub struct ErrorCodes;

impl ToNapiValue for ErrorCodes {
    unsafe fn to_napi_value(env: sys::napi_env, _: Self) -> Result<sys::napi_value> {
        let env = Env::from_raw(env);
        let mut codes = Object::new(&env)?;
        for (name, code) in code::ALL {
            codes.set_named_property(name, *code)?;
        }
        Ok(codes.raw())
    }
}

/// `url` as every message, `NODE_DEBUG` line and `Debug` output of this package shows a URL
/// (`core::redact::shown_url`): no user name or password, no query or fragment, escaped as
/// civic-sip-api's `request` printed it. For tools of this package that print a URL.
#[napi(js_name = "redactUrl")]
#[cfg_attr(test, allow(dead_code))]
pub fn redact_url(url: String) -> String {
    crate::core::redact::shown_url(&url)
}

/// Every `error.reason` of `ERR_CIVIC_VERIFICATION` (`['signature', 'expired', ...]`), from
/// `Rejected::EVERY_KIND`: what the tests check `index.d.ts`'s `VerificationReason` against.
#[napi(js_name = "VERIFICATION_REASONS", skip_typescript)]
#[cfg_attr(test, allow(dead_code))]
pub const VERIFICATION_REASONS: VerificationReasons = VerificationReasons;

/// The value of [`VERIFICATION_REASONS`]: an array built when the module loads.
#[cfg_attr(test, allow(dead_code))]
pub struct VerificationReasons;

impl ToNapiValue for VerificationReasons {
    unsafe fn to_napi_value(env: sys::napi_env, _: Self) -> Result<sys::napi_value> {
        let names: Vec<&str> = Rejected::EVERY_KIND.iter().map(Rejected::as_str).collect();
        // SAFETY: called by napi-rs with the module's env, on the JS thread.
        unsafe { Vec::to_napi_value(env, names) }
    }
}

/// How many sets of roots this process has parsed so far (one per distinct set that met a TLS
/// handshake), for the tests of that and for a deployment check.
#[napi]
#[cfg_attr(test, allow(dead_code))]
pub fn trust_sets_parsed() -> u32 {
    u32::try_from(Roots::sets_parsed()).unwrap_or(u32::MAX)
}
