//! The thin napi layer: JS options in, JS values and JS errors out. Everything else is the core.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::{Env, JsValue, JSON};
use napi_derive::napi;

use crate::core::client::{contain_panics, Abort, Reply};
use crate::core::error::{json_string, Error as CoreError, ErrorKind};
use crate::core::{Client, Options, ProxyOptions, UserData};

/// The options as index.js normalises them: falsy values are absent, the rest strings.
#[napi(object)]
pub struct NativeOptions {
    pub app_id: Option<String>,
    pub app_secret: Option<String>,
    pub prv_key: Option<String>,
    pub env: Option<String>,
    pub api: Option<String>,
    #[napi(js_name = "includeStageInURL")]
    pub include_stage_in_url: Option<bool>,
    pub proxy: Option<NativeProxy>,
    /// Civic's response-token keys; index.js turns one string or a list into this.
    pub civic_public_keys: Option<Vec<String>>,
    pub timeout: Option<f64>,
    pub max_response_bytes: Option<f64>,
    /// PEM texts; index.js turns a string, a Buffer or an array of them into this.
    pub ca: Option<Vec<String>>,
    pub retries: Option<f64>,
}

#[napi(object)]
pub struct NativeProxy {
    pub url: Option<String>,
    pub reject_unauthorized: Option<bool>,
}

impl From<NativeOptions> for Options {
    fn from(o: NativeOptions) -> Options {
        Options {
            app_id: o.app_id,
            app_secret: o.app_secret,
            prv_key: o.prv_key,
            env: o.env,
            api: o.api,
            include_stage_in_url: o.include_stage_in_url,
            proxy: o.proxy.map(|p| ProxyOptions {
                url: p.url,
                reject_unauthorized: p.reject_unauthorized,
            }),
            civic_public_keys: o.civic_public_keys,
            timeout_ms: o.timeout,
            max_response_bytes: o.max_response_bytes,
            ca: o.ca,
            retries: o.retries,
        }
    }
}

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

/// Holds the configuration and the connection pool; secrets never leave Rust.
#[napi]
pub struct NativeClient {
    inner: Arc<Client>,
}

#[napi]
impl NativeClient {
    #[napi(constructor, catch_unwind)]
    pub fn new(env: Env, options: NativeOptions) -> Result<Self> {
        Client::new(options.into())
            .map(|client| NativeClient {
                inner: Arc::new(client),
            })
            .map_err(|e| to_js_error(&env, e))
    }

    /// Resolves with `{ data, userId }`; rejects with an Error carrying `code`.
    #[napi(
        catch_unwind,
        ts_return_type = "Promise<{ data: unknown; userId: unknown }>"
    )]
    pub fn exchange_code<'env>(
        &self,
        env: &'env Env,
        auth_code: Unknown<'env>,
        abort: Option<&NativeAbort>,
    ) -> Result<PromiseRaw<'env, Object<'env>>> {
        let client = Arc::clone(&self.inner);
        let abort = abort.map(|a| a.inner.clone()).unwrap_or_default();
        // A wrong type is a rejection like every other failure of the call, not a throw.
        let auth_code = match auth_code.get_type()? {
            ValueType::String => Ok(unsafe { auth_code.cast::<String>() }?),
            other => Err(CoreError::new(ErrorKind::InvalidArgument(format!(
                "the auth code must be a string, not {}",
                js_type_name(other)
            )))
            .in_exchange()),
        };
        settle(env, async move {
            client.exchange_code_until(&auth_code?, &abort).await
        })
    }

    /// civic-sip-api's `processPayload`: the user data, or a Promise of it for a processed reply;
    /// throws as civic-sip-api did. `unexpected_status` is `String(statusCode)` when the status
    /// is not the number 200, absent when it is.
    #[napi(
        catch_unwind,
        ts_return_type = "{ data: unknown; userId: unknown } | Promise<{ data: unknown; userId: unknown }>"
    )]
    pub fn process_payload<'env>(
        &self,
        env: &'env Env,
        unexpected_status: Option<String>,
        body: Option<String>,
    ) -> Result<Unknown<'env>> {
        let reply = match unexpected_status {
            Some(status) => Err(CoreError::new(ErrorKind::UnexpectedStatus {
                status,
                body: body.unwrap_or_else(|| "undefined".to_owned()),
            })),
            None => self.inner.read_reply(body.as_deref()),
        };
        match reply {
            Ok(Reply::Ready(user_data)) => Ok(to_js_user_data(env, user_data)?.to_unknown()),
            Ok(Reply::Processed(pending)) => {
                let client = Arc::clone(&self.inner);
                Ok(settle(env, async move { client.fetch_payload(pending).await })?.to_unknown())
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

/// Runs an exchange on the tokio runtime and settles the promise on the JS thread. A panic in
/// the work becomes a rejection, never a promise left pending.
fn settle<'env>(
    env: &'env Env,
    work: impl std::future::Future<Output = std::result::Result<UserData, CoreError>> + Send + 'static,
) -> Result<PromiseRaw<'env, Object<'env>>> {
    let guarded = async move { Ok(contain_panics(work).await) };
    env.spawn_future_with_callback(guarded, |env, outcome| match outcome {
        Ok(user_data) => to_js_user_data(env, user_data),
        Err(e) => Err(to_js_error(env, e)),
    })
}

/// `{ data, userId }` built with one `JSON.parse` of text the core already checked is JSON.
fn to_js_user_data<'env>(env: &'env Env, user_data: UserData) -> Result<Object<'env>> {
    let UserData { data, user_id } = user_data;
    let mut text = String::with_capacity(data.len() + user_id.as_ref().map_or(0, String::len) + 24);
    text.push_str("{\"data\":");
    text.push_str(&data);
    if let Some(id) = &user_id {
        text.push_str(",\"userId\":");
        text.push_str(id);
    }
    text.push('}');
    let parse: Function<String, Object> = json(env)?.get_named_property_unchecked("parse")?;
    let mut result = parse.call(text)?;
    if user_id.is_none() {
        // civic-sip-api's result always has the key, `undefined` where the reply had no userId.
        result.set_named_property("userId", ())?;
    }
    Ok(result)
}

fn json<'env>(env: &'env Env) -> Result<JSON<'env>> {
    env.get_global()?
        .get_named_property_unchecked::<JSON>("JSON")
}

/// The one place core errors become JS errors: an `Error` with civic-sip-api's message, a
/// `code`, and for HTTP errors `response: { statusCode, body }`.
fn to_js_error(env: &Env, e: CoreError) -> Error {
    match build_js_error(env, &e) {
        Ok(js_error) => Error::from(js_error.to_unknown()),
        // Only when the environment is shutting down; the message is still civic-sip-api's.
        Err(_) => Error::new(Status::GenericFailure, e.to_string()),
    }
}

fn build_js_error<'env>(env: &'env Env, e: &CoreError) -> Result<Object<'env>> {
    let message = e.message_with(&|body| render_json_v8(env, body));
    let mut error = env.create_error(Error::new(Status::GenericFailure, message))?;
    error.set_named_property("code", e.code())?;
    if matches!(e.kind(), ErrorKind::Aborted) {
        // What `fetch` and Node's own APIs reject with, so `error.name === 'AbortError'` works.
        error.set_named_property("name", "AbortError")?;
    }
    // Civic's status under `response`, as HTTP clients (got, axios) keep it: a top-level
    // `statusCode` or `status` would become the app's own answer in Express's or Koa's error
    // handler (Civic's 401 for a wrong app key is the app's 500).
    if let Some(body) = e.response_body() {
        let mut response = Object::new(env)?;
        if let Some(status) = e.status_code() {
            response.set_named_property("statusCode", u32::from(status))?;
        }
        response.set_named_property("body", body)?;
        error.set_named_property("response", response)?;
    }
    Ok(error)
}

/// `JSON.stringify(JSON.parse(body))`, or of the body text where it is not JSON, by V8 itself so
/// the message is byte-for-byte civic-sip-api's (number formatting, key order).
fn render_json_v8(env: &Env, body: Option<&str>) -> String {
    let Some(text) = body else {
        return "undefined".to_owned();
    };
    // Only text serde_json accepts goes to JSON.parse, so it cannot throw.
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return json_string(text);
    }
    let render = || -> Result<String> {
        let json = json(env)?;
        let parse: Function<String, Unknown> = json.get_named_property_unchecked("parse")?;
        json.stringify(parse.call(text.to_owned())?)
    };
    render().unwrap_or_else(|_| crate::core::error::render_json_serde(body))
}

/// The runtime the exchanges run on: one worker, which is plenty for work of well under a
/// millisecond of CPU per exchange, at a lower scheduling priority than the JS thread, so that on
/// a busy machine the event loop, which serves the whole app, runs first and the exchange waits.
/// The connections run elsewhere, on their origin's thread (`core::origin`), so a server flooding
/// one cannot delay the deadlines and aborts this worker keeps.
#[napi_derive::module_init]
fn init() {
    if let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_start(|| crate::core::origin::lower_thread_priority(crate::core::origin::NICE))
        .enable_all()
        .build()
    {
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
}
