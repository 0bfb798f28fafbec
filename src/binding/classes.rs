//! The classes index.js builds on: `NativeClient` (a Civic client), `NativeAbort` (an
//! `AbortSignal`'s native side) and `NativeTrust` (a set of trusted roots).

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;

use super::options::NativeOptions;
use super::settle::settle;
use super::values::{to_js_error, to_js_user_data};
use crate::core::error::{Error as CoreError, ErrorKind};
use crate::core::exchange::debuglog::{Observer, Steps};
use crate::core::exchange::reply::ReplyStatus;
use crate::core::http::tls::Roots;
use crate::core::{Abort, Client, ReplyOutcome};

/// What index.js ties an `AbortSignal` to: `abort()` stops the exchanges it was given to.
#[napi]
#[derive(Default)]
pub struct NativeAbort {
    inner: Abort,
}

#[napi]
impl NativeAbort {
    #[napi(constructor)]
    pub fn new() -> Self {
        NativeAbort::default()
    }

    #[napi]
    pub fn abort(&self) {
        self.inner.abort();
    }
}

/// A set of trusted roots (PEM texts), made by index.js from what Node trusts (trust.js) when
/// that changes, and given to every client; the same texts are the same roots process-wide
/// (worker threads included), parsed at their first TLS handshake.
#[napi]
pub struct NativeTrust {
    inner: Arc<Roots>,
}

#[napi]
impl NativeTrust {
    #[napi(constructor)]
    pub fn new(certificates: Vec<String>) -> Self {
        NativeTrust {
            inner: Roots::shared(certificates),
        }
    }
}

/// Holds the configuration and the connection pool; secrets never leave Rust.
#[napi]
pub struct NativeClient {
    inner: Arc<Client>,
}

#[napi]
impl NativeClient {
    #[napi(constructor, catch_unwind)]
    pub fn new(env: Env, options: NativeOptions) -> Result<Self> {
        options
            .into_options()
            .and_then(Client::new)
            .map(|client| NativeClient {
                inner: Arc::new(client),
            })
            .map_err(|e| to_js_error(&env, e))
    }

    /// The roots to trust from now on where this client has no `ca` (Node's default ones).
    #[napi]
    pub fn use_trust(&self, trust: &NativeTrust) {
        self.inner.use_default_roots(Arc::clone(&trust.inner));
    }

    /// Resolves with `{ data, userId }`; rejects with an Error carrying `code`. Given `steps`
    /// (an empty array: index.js passes one only while `NODE_DEBUG` names this package), fills it
    /// with the exchange's steps, one line each, just before the promise settles.
    #[napi(
        catch_unwind,
        ts_args_type = "authCode: unknown, abort?: NativeAbort | undefined | null, steps?: string[] | undefined | null",
        ts_return_type = "Promise<{ data: unknown; userId: unknown }>"
    )]
    pub fn exchange_code<'env>(
        &self,
        env: &'env Env,
        auth_code: Unknown<'env>,
        abort: Option<&NativeAbort>,
        steps: Option<Object<'env>>,
    ) -> Result<PromiseRaw<'env, Object<'env>>> {
        let client = Arc::clone(&self.inner);
        let abort = abort.map(|a| a.inner.clone()).unwrap_or_default();
        // A wrong type is a rejection like every other failure of the call, not a throw.
        let auth_code = match auth_code.get_type()? {
            // SAFETY: its type was just read as a string.
            ValueType::String => Ok(unsafe { auth_code.cast::<String>() }?),
            other => Err(CoreError::new(ErrorKind::InvalidArgument(format!(
                "the auth code must be a string, not {}",
                js_type_name(other)
            )))
            .via_exchange_code()),
        };
        settle(env, steps, |steps| async move {
            let observer = steps.as_deref().map_or(Observer::OFF, Steps::observer);
            client
                .exchange_code_with_abort(&auth_code?, &abort, observer)
                .await
        })
    }

    /// civic-sip-api's `processPayload`: the user data, or a Promise of it for a processed reply;
    /// throws as civic-sip-api did. `unexpected_status` is `String(statusCode)` when the status
    /// is not the number 200, absent when it is. `steps` as for `exchangeCode`, filled only for a
    /// processed reply (the payload fetch).
    #[napi(
        catch_unwind,
        ts_args_type = "unexpectedStatus?: string | undefined | null, body?: string | undefined | null, steps?: string[] | undefined | null",
        ts_return_type = "{ data: unknown; userId: unknown } | Promise<{ data: unknown; userId: unknown }>"
    )]
    pub fn process_payload<'env>(
        &self,
        env: &'env Env,
        unexpected_status: Option<String>,
        body: Option<String>,
        steps: Option<Object<'env>>,
    ) -> Result<Unknown<'env>> {
        let status = unexpected_status.map_or(ReplyStatus::Ok, ReplyStatus::Other);
        match self.inner.process_payload(status, body.as_deref()) {
            Ok(ReplyOutcome::Ready(user_data)) => Ok(to_js_user_data(env, user_data)?.to_unknown()),
            Ok(ReplyOutcome::Processed(pending)) => {
                let client = Arc::clone(&self.inner);
                let fetch = |steps: Option<Arc<Steps>>| async move {
                    let observer = steps.as_deref().map_or(Observer::OFF, Steps::observer);
                    client.fetch_payload(pending, observer).await
                };
                Ok(settle(env, steps, fetch)?.to_unknown())
            }
            Err(e) => Err(to_js_error(env, e)),
        }
    }
}

fn js_type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "a boolean",
        ValueType::Number => "a number",
        ValueType::BigInt => "a bigint",
        ValueType::Symbol => "a symbol",
        ValueType::Function => "a function",
        _ => "an object",
    }
}
