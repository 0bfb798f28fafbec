//! The thin napi layer: JS options in, JS values and JS errors out. Everything else is the core.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::{check_status, sys};
use napi::{Env, JsValue, JSON};
use napi_derive::napi;

use crate::core::error::{code, Error as CoreError, ErrorKind, Rejected};
use crate::core::exchange::config;
use crate::core::exchange::debuglog::{Observer, Steps};
use crate::core::exchange::reply::ReplyStatus;
use crate::core::json::json_string;
use crate::core::node_words::NodeWords;
use crate::core::{Abort, ReplyOutcome};
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
    /// Milliseconds, any JS number (checked in `into_options`).
    pub timeout: Option<f64>,
    /// Bytes, any JS number (checked in `into_options`).
    pub max_response_bytes: Option<f64>,
    /// PEM texts; index.js turns a string, a Buffer or an array of them into this.
    pub ca: Option<Vec<String>>,
    /// Any JS number (checked in `into_options`).
    pub retries: Option<f64>,
    /// `process.versions.node`, `.llhttp` and `.openssl` of the running Node (Bun's and Deno's
    /// say which Node they follow): the messages are worded as that line words them.
    pub node_version: Option<String>,
    pub llhttp_version: Option<String>,
    pub openssl_version: Option<String>,
}

#[napi(object)]
pub struct NativeProxy {
    pub url: Option<String>,
    pub reject_unauthorized: Option<bool>,
}

impl NativeOptions {
    /// The options in Rust's types. JS numbers are checked here, with the messages the core gives
    /// for the values they cannot be (a missing appId, appSecret or prvKey is still reported
    /// first, as civic-sip-api threw it).
    fn into_options(self) -> std::result::Result<Options, CoreError> {
        let timeout = self.timeout.map(timeout_from_ms).transpose();
        let max_response_bytes = self.max_response_bytes.map(bytes_from_js).transpose();
        let retries = self.retries.map(retries_from_js).transpose();
        let options = Options {
            app_id: self.app_id,
            app_secret: self.app_secret,
            prv_key: self.prv_key,
            env: self.env,
            api: self.api,
            include_stage_in_url: self.include_stage_in_url,
            proxy: self.proxy.map(|p| ProxyOptions {
                url: p.url,
                reject_unauthorized: p.reject_unauthorized,
            }),
            civic_public_keys: self.civic_public_keys,
            timeout: timeout.clone().unwrap_or_default(),
            max_response_bytes: max_response_bytes.clone().unwrap_or_default(),
            ca: self.ca,
            retries: retries.clone().unwrap_or_default(),
            words: NodeWords::of(
                self.node_version.as_deref(),
                self.llhttp_version.as_deref(),
                self.openssl_version.as_deref(),
            ),
        };
        let numbers = timeout.and(max_response_bytes).and(retries);
        match (config::missing_field(&options), numbers) {
            (Some(missing), _) => Err(missing),
            (None, Err(bad)) => Err(bad),
            (None, Ok(_)) => Ok(options),
        }
    }
}

fn invalid_option(message: &str) -> CoreError {
    CoreError::new(ErrorKind::InvalidConfig(message.to_owned()))
}

/// `timeout` in milliseconds. Longer than Node's longest timer (`Infinity` too) counts as that;
/// below a nanosecond rounds to zero, which is refused like 0, -0 and negatives; NaN fails the
/// comparison.
fn timeout_from_ms(ms: f64) -> std::result::Result<Duration, CoreError> {
    if ms >= 1e-6 {
        Ok(Duration::from_secs_f64(
            ms.min(config::MAX_TIMEOUT.as_secs_f64() * 1000.0) / 1000.0,
        ))
    } else {
        Err(invalid_option(config::TIMEOUT_MESSAGE))
    }
}

/// `maxResponseBytes`: a positive whole number; `Infinity`, or more than memory can address, is
/// no limit (the cast saturates).
fn bytes_from_js(n: f64) -> std::result::Result<usize, CoreError> {
    if n >= 1.0 && (n == f64::INFINITY || n.fract() == 0.0) {
        Ok(n as usize)
    } else {
        Err(invalid_option(config::MAX_RESPONSE_BYTES_MESSAGE))
    }
}

/// `retries`: a whole number from 0 to `MAX_RETRIES` (`-0` is 0).
fn retries_from_js(n: f64) -> std::result::Result<u32, CoreError> {
    if n.fract() == 0.0 && (0.0..=f64::from(config::MAX_RETRIES)).contains(&n) {
        Ok(n as u32)
    } else {
        Err(invalid_option(&config::retries_message()))
    }
}

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
    inner: Arc<crate::core::http::tls::Roots>,
}

#[napi]
impl NativeTrust {
    #[napi(constructor)]
    pub fn new(certificates: Vec<String>) -> Self {
        NativeTrust {
            inner: crate::core::http::tls::Roots::shared(certificates),
        }
    }
}

/// How many sets of roots this process has parsed so far (one per distinct set that met a TLS
/// handshake), for the tests of that and for a deployment check.
#[napi]
#[cfg_attr(test, allow(dead_code))]
pub fn trust_sets_parsed() -> u32 {
    u32::try_from(crate::core::http::tls::Roots::sets_parsed()).unwrap_or(u32::MAX)
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

/// What `check` (check.js) reports of some options, decided by the core as an exchange with them
/// decides it. Nothing in it is a secret; `proxy` is the proxy URL as configured (it may hold a
/// password: check.js shows only its scheme, host and port, and uses the rest to connect).
#[napi(object)]
// Under `cargo test` napi-derive registers no export, so nothing would use these.
#[cfg_attr(test, allow(dead_code))]
pub struct NativeDescription {
    /// The URL the exchange is POSTed to.
    pub exchange_url: String,
    /// `prvKey`'s public key, uncompressed SEC1 in hex (`04…`, 130 characters).
    pub public_key: Option<String>,
    /// The same key compressed (`02…`/`03…`, 66 characters).
    pub public_key_compressed: Option<String>,
    /// Why an exchange would refuse `prvKey` (instead of `public_key`).
    pub prv_key_error: Option<String>,
    /// Why an exchange would refuse `appSecret`.
    pub app_secret_error: Option<String>,
    /// The proxy the exchange goes through; absent when it goes direct.
    pub proxy: Option<String>,
    /// Why the exchange would fail to choose its route (an unusable proxy URL).
    pub proxy_error: Option<String>,
    /// A proxy variable would apply but `NO_PROXY` covers the exchange URL's host.
    pub no_proxy_bypass: bool,
}

/// The configuration, public key and route `check` reports (see [`NativeDescription`]); reads
/// the proxy environment variables now, as a client made now would. Never throws for a bad
/// option: each part carries its error.
#[napi(catch_unwind)]
#[cfg_attr(test, allow(dead_code))]
pub fn describe_options(options: NativeOptions) -> NativeDescription {
    let options = Options {
        app_secret: options.app_secret,
        prv_key: options.prv_key,
        env: options.env,
        api: options.api,
        include_stage_in_url: options.include_stage_in_url,
        proxy: options.proxy.map(|p| ProxyOptions {
            url: p.url,
            reject_unauthorized: p.reject_unauthorized,
        }),
        ..Options::default()
    };
    let described = config::describe(&options);
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let (public_key, public_key_compressed, prv_key_error) = match described.public_key {
        Ok(point) => {
            let mut compressed = vec![2 + (point[64] & 1)];
            compressed.extend_from_slice(&point[1..33]);
            (Some(hex(&point)), Some(hex(&compressed)), None)
        }
        Err(e) => (None, None, Some(e.to_string())),
    };
    let (proxy, proxy_error) = match described.proxy {
        Ok(proxy) => (proxy.map(String::from), None),
        Err(e) => (None, Some(e.to_string())),
    };
    NativeDescription {
        exchange_url: described.exchange_url,
        public_key,
        public_key_compressed,
        prv_key_error,
        app_secret_error: described.app_secret.err().map(|e| e.to_string()),
        proxy,
        proxy_error,
        no_proxy_bypass: described.no_proxy_bypass,
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

/// Runs an exchange on the tokio runtime and settles its promise on the JS thread. Every exchange
/// of a JS thread reports through that thread's one threadsafe function ([`settler`]) instead of
/// one made per call (napi-rs's `spawn_future_with_callback`): no libuv handle, async resource and
/// cleanup hook set up and torn down per exchange, no second wake-up of the loop to release it,
/// and replies that arrive together are settled in one wake-up. A panic in the work, or the work being dropped, still
/// settles the promise (see [`Pending`]).
///
/// With a `steps` array, the work gets a collector and its lines land in the array just before
/// the promise settles: one hand-over per exchange, none while nothing is recorded.
fn settle<'env, F>(
    env: &'env Env,
    steps: Option<Object<'env>>,
    work: impl FnOnce(Option<Arc<Steps>>) -> F,
) -> Result<PromiseRaw<'env, Object<'env>>>
where
    F: std::future::Future<Output = std::result::Result<UserData, CoreError>> + Send + 'static,
{
    let settler = settler(env)?;
    let mut deferred = std::ptr::null_mut();
    let mut promise = std::ptr::null_mut();
    // SAFETY: plain Node-API calls on the JS thread with this thread's env.
    check_status!(unsafe { sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) })?;
    // Debug output is not worth failing an exchange for: without a reference, nothing is recorded.
    let log = steps.and_then(|array| {
        let mut reference = std::ptr::null_mut();
        // SAFETY: a Node-API call on the JS thread; the reference is deleted in `deliver`.
        let status =
            unsafe { sys::napi_create_reference(env.raw(), array.raw(), 1, &mut reference) };
        (status == sys::Status::napi_ok).then(|| (Arc::new(Steps::default()), reference))
    });
    let work = work(log.as_ref().map(|(steps, _)| Arc::clone(steps)));
    started_one(env);
    let pending = Pending {
        settler,
        deferred,
        outcome: None,
        log,
    };
    napi::bindgen_prelude::spawn(async move {
        let mut pending = pending;
        pending.outcome = Some(work.await);
    });
    Ok(PromiseRaw::new(env.raw(), promise))
}

thread_local! {
    /// This JS thread's settler, once made, and its threadsafe function: the JS thread, which
    /// alone closes it, uses its own copy without taking the settler's locks.
    static SETTLER: std::cell::RefCell<Option<(Settler, Waker)>> =
        const { std::cell::RefCell::new(None) };
    /// Exchanges of this JS thread not yet settled: the settler keeps the event loop alive
    /// (is ref'd) exactly while this is above zero, as a pending request would.
    static IN_FLIGHT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A JS thread's waker and its exchanges that finished but are not yet settled, shared with the
/// exchanges in flight. Finished exchanges wait in a queue that one wake-up drains
/// ([`deliver_queue`]): the JS thread is woken once per batch, not once per exchange (see
/// [`Settler::finish`]).
///
/// Node frees the threadsafe function when its environment is torn down (a worker thread ending,
/// the process exiting) even if calls may still come, so it is taken out, under its lock, by an
/// environment cleanup hook that runs before Node frees it (ours runs before Node's own, as hooks
/// run in reverse order of registration); an exchange finishing after that finds `None` and drops
/// its outcome, as its promise is gone too.
#[derive(Clone)]
struct Settler(Arc<Shared>);

struct Shared {
    /// Held across every wake-up, so the environment cannot close the waker midway. Apart from
    /// closing it, the JS thread never takes this lock: the worker holds it while it wakes the
    /// JS thread.
    waker: std::sync::Mutex<Option<Waker>>,
    /// Held only to push or take, never across a call into Node.
    queue: std::sync::Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    done: Vec<Completion>,
    /// The JS thread has been woken and has not yet taken the queue.
    woken: bool,
}

/// How the exchanges wake their JS thread: Node's threadsafe function, called once per batch.
#[derive(Clone, Copy)]
struct Waker(sys::napi_threadsafe_function);

// SAFETY: it may be called from any thread while Node has not closed it, which the mutex around
// it guarantees; the rest is done on the JS thread.
unsafe impl Send for Waker {}

impl Waker {
    /// Wakes the JS thread; `false` once Node is closing the threadsafe function.
    ///
    /// # Safety
    /// Open: called under the lock that closing it takes.
    unsafe fn wake(self) -> bool {
        // SAFETY: open, so Node has not freed it; callable from any thread.
        unsafe {
            sys::napi_call_threadsafe_function(
                self.0,
                std::ptr::null_mut(),
                sys::ThreadsafeFunctionCallMode::nonblocking,
            ) == sys::Status::napi_ok
        }
    }

    /// Keeps the event loop alive, or stops keeping it, as a pending request would.
    ///
    /// # Safety
    /// On the JS thread that owns it, while open.
    unsafe fn keep_alive(self, env: sys::napi_env, keep: bool) {
        // SAFETY: as the caller guarantees.
        unsafe {
            if keep {
                sys::napi_ref_threadsafe_function(env, self.0);
            } else {
                sys::napi_unref_threadsafe_function(env, self.0);
            }
        }
    }
}

// SAFETY: the deferred and the reference are only handed back to the JS thread that made them,
// never used elsewhere.
unsafe impl Send for Completion {}

fn locked<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Settler {
    /// Queues a finished exchange for its JS thread, and wakes it unless a wake-up is already on
    /// its way (replies that finish before the JS thread runs are settled in one wake-up).
    fn finish(&self, completion: Completion) {
        let mut queue = locked(&self.0.queue);
        queue.done.push(completion);
        if !queue.woken {
            queue.woken = true;
            drop(queue);
            self.send();
        }
    }

    /// Wakes the JS thread to settle the queue.
    fn send(&self) {
        let open = locked(&self.0.waker);
        // SAFETY: open while the lock is held.
        let woken = open.is_some_and(|waker| unsafe { waker.wake() });
        drop(open);
        if !woken {
            // Closing: the environment is gone, and the promises with it. Were it ever to fail
            // otherwise, the next exchange to finish tries again.
            let mut queue = locked(&self.0.queue);
            queue.done.clear();
            queue.woken = false;
        }
    }
}

/// The JS thread's settler, made on first use. Unref'd while nothing is in flight, so it never
/// holds the process open.
fn settler(env: &Env) -> Result<Settler> {
    if let Some((settler, _)) = SETTLER.with(|s| s.borrow().clone()) {
        return Ok(settler);
    }
    let shared = Arc::new(Shared {
        waker: std::sync::Mutex::new(None),
        queue: std::sync::Mutex::default(),
    });
    let waker = threadsafe_function(env, &shared)?;
    *locked(&shared.waker) = Some(waker);
    let settler = Settler(shared);
    SETTLER.with(|s| *s.borrow_mut() = Some((settler.clone(), waker)));
    IN_FLIGHT.with(|n| n.set(0));
    Ok(settler)
}

/// A threadsafe function that settles `shared`'s queue, unref'd, closed by a cleanup hook.
fn threadsafe_function(env: &Env, shared: &Arc<Shared>) -> Result<Waker> {
    const NAME: &str = "civic-sip-native exchange";
    let mut name = std::ptr::null_mut();
    let mut tsfn = std::ptr::null_mut();
    // SAFETY: Node-API calls on the JS thread; a null function is allowed with a `call_js_cb`.
    unsafe {
        check_status!(sys::napi_create_string_utf8(
            env.raw(),
            NAME.as_ptr().cast(),
            NAME.len() as isize,
            &mut name
        ))?;
        check_status!(sys::napi_create_threadsafe_function(
            env.raw(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            name,
            0,
            1,
            std::ptr::null_mut(),
            Some(forget_settler),
            std::ptr::null_mut(),
            Some(deliver),
            &mut tsfn,
        ))?;
        check_status!(sys::napi_unref_threadsafe_function(env.raw(), tsfn))?;
    }
    // Leaked on purpose if the hook cannot be added: the tsfn must then never be dropped early.
    let hook = Arc::into_raw(Arc::clone(shared));
    // SAFETY: the hook gets back the Arc leaked here, once.
    check_status!(unsafe {
        sys::napi_add_env_cleanup_hook(env.raw(), Some(close_settler), hook as *mut _)
    })?;
    Ok(Waker(tsfn))
}

/// The environment is being torn down: no exchange may call the threadsafe function from now on.
unsafe extern "C" fn close_settler(hook: *mut std::ffi::c_void) {
    // SAFETY: the Arc that `threadsafe_function` leaked for this hook.
    let shared = unsafe { Arc::from_raw(hook as *const Shared) };
    closing(&shared);
}

/// Closes a settler's waker for good, drops what is queued (the promises are gone with the
/// environment) and forgets the settler, so that nothing on this thread uses it again.
fn closing(shared: &Shared) {
    *locked(&shared.waker) = None;
    locked(&shared.queue).done.clear();
    let _ = SETTLER.try_with(|s| s.borrow_mut().take());
}

/// Node closed the settler (the environment is going away): the next exchange on this thread, if
/// any, makes a new one.
unsafe extern "C" fn forget_settler(
    _env: sys::napi_env,
    _data: *mut std::ffi::c_void,
    _hint: *mut std::ffi::c_void,
) {
    let _ = SETTLER.try_with(|s| s.borrow_mut().take());
}

/// This JS thread's waker, while open.
fn own_waker() -> Option<Waker> {
    SETTLER
        .try_with(|s| s.borrow().as_ref().map(|(_, waker)| *waker))
        .ok()
        .flatten()
}

fn started_one(env: &Env) {
    let before = IN_FLIGHT.with(|n| n.replace(n.get() + 1));
    if let (0, Some(waker)) = (before, own_waker()) {
        // SAFETY: on the JS thread that owns the settler, which is open.
        unsafe { waker.keep_alive(env.raw(), true) };
    }
}

fn settled_one(env: sys::napi_env) {
    let after = IN_FLIGHT.with(|n| {
        n.set(n.get().saturating_sub(1));
        n.get()
    });
    if let (0, Some(waker)) = (after, own_waker()) {
        // SAFETY: as in `started_one`.
        unsafe { waker.keep_alive(env, false) };
    }
}

/// An exchange's way back to its promise. Queued for the JS thread when dropped: with the
/// outcome once the work finished, as an internal error if the work panicked or was dropped
/// unfinished.
struct Pending {
    settler: Settler,
    deferred: sys::napi_deferred,
    outcome: Option<std::result::Result<UserData, CoreError>>,
    /// The steps being recorded, and the JS array they go to.
    log: Option<(Arc<Steps>, sys::napi_ref)>,
}

// SAFETY: the deferred and the reference are only handed back to the JS thread that made them,
// never used here.
unsafe impl Send for Pending {}

/// What the settler carries to the JS thread.
struct Completion {
    deferred: sys::napi_deferred,
    outcome: std::result::Result<UserData, CoreError>,
    /// The recorded lines and the JS array they go to.
    log: Option<(Vec<String>, sys::napi_ref)>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let outcome = self
            .outcome
            .take()
            .unwrap_or_else(|| Err(CoreError::new(ErrorKind::Internal).via_exchange_code()));
        let log = self
            .log
            .take()
            .map(|(steps, reference)| (steps.take(), reference));
        self.settler.finish(Completion {
            deferred: self.deferred,
            outcome,
            log,
        });
    }
}

/// The threadsafe function's `call_js_cb`, on the JS thread. `env` is null when Node drops
/// queued calls while tearing down.
unsafe extern "C" fn deliver(
    env: sys::napi_env,
    _js_callback: sys::napi_value,
    _context: *mut std::ffi::c_void,
    _data: *mut std::ffi::c_void,
) {
    if env.is_null() {
        return;
    }
    if let Some((settler, _)) = SETTLER.try_with(|s| s.borrow().clone()).ok().flatten() {
        deliver_queue(env, &settler.0);
    }
}

/// On the JS thread: settles every exchange queued so far, in the order they finished.
fn deliver_queue(env: sys::napi_env, shared: &Shared) {
    let done = {
        let mut queue = locked(&shared.queue);
        queue.woken = false;
        std::mem::take(&mut queue.done)
    };
    for completion in done {
        settled_one(env);
        // Each exchange's values are freed with its own scope, however many there are.
        let mut scope = std::ptr::null_mut();
        // SAFETY: Node-API calls on the JS thread; the scope is closed below, once.
        let opened =
            unsafe { sys::napi_open_handle_scope(env, &mut scope) } == sys::Status::napi_ok;
        settle_one(Env::from_raw(env), completion);
        if opened {
            // SAFETY: the scope opened above, the innermost one.
            unsafe { sys::napi_close_handle_scope(env, scope) };
        }
    }
}

/// Resolves or rejects one exchange's promise, on the JS thread.
fn settle_one(env: Env, completion: Completion) {
    let Completion {
        deferred,
        outcome,
        log,
    } = completion;
    let settled = std::cell::Cell::new(false);
    // Never unwind into Node (this runs inside a threadsafe-function callback); a panic
    // leaves `settled` false, as a failure does.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if let Some((lines, reference)) = log {
            hand_over(&env, lines, reference);
        }
        let status = match outcome.map(|user_data| to_js_user_data(&env, user_data)) {
            Ok(Ok(value)) => {
                // SAFETY: the deferred made with this env, settled exactly once, here.
                unsafe { sys::napi_resolve_deferred(env.raw(), deferred, value.raw()) }
            }
            Ok(Err(e)) => reject(&env, deferred, rejection_of_napi_error(&env, e)),
            Err(e) => reject(&env, deferred, rejection(&env, e)),
        };
        if status == sys::Status::napi_ok {
            settled.set(true);
        } else if let Some(exception) = take_exception(&env) {
            // A JS exception left pending made the settle itself fail: the promise rejects with
            // it rather than stay pending (and the next exchange does not inherit it).
            settled.set(reject(&env, deferred, exception) == sys::Status::napi_ok);
        }
    }));
    // Whatever JS threw while this exchange was settled is this exchange's alone.
    let _ = take_exception(&env);
    if !settled.get() {
        // Building the result panicked, or failed, before the promise was settled: it rejects
        // with ERR_CIVIC_INTERNAL rather than stay pending.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let internal = CoreError::new(ErrorKind::Internal).via_exchange_code();
            reject(&env, deferred, rejection(&env, internal));
        }));
    }
}

/// Puts the recorded lines into the JS array (before the promise settles, so they are there for
/// whoever awaits it) and releases the reference to it.
fn hand_over(env: &Env, lines: Vec<String>, reference: sys::napi_ref) {
    let mut array = std::ptr::null_mut();
    // SAFETY: Node-API calls on the JS thread that made `reference`, deleted here once.
    unsafe {
        if sys::napi_get_reference_value(env.raw(), reference, &mut array) == sys::Status::napi_ok
            && !array.is_null()
        {
            for (i, line) in (0..).zip(lines) {
                let Ok(line) = env.create_string(line) else {
                    break;
                };
                // A setter on the array (or on `Array.prototype`) may throw: the lines stop
                // there, and the exception must not fail the settle that follows.
                if sys::napi_set_element(env.raw(), array, i, line.raw()) != sys::Status::napi_ok {
                    let _ = take_exception(env);
                    break;
                }
            }
        }
        sys::napi_delete_reference(env.raw(), reference);
    }
}

fn reject(env: &Env, deferred: sys::napi_deferred, reason: sys::napi_value) -> sys::napi_status {
    // SAFETY: as in `deliver`.
    unsafe { sys::napi_reject_deferred(env.raw(), deferred, reason) }
}

/// The JS error for a core error; `undefined` only if not even a plain Error can be made.
fn rejection(env: &Env, e: CoreError) -> sys::napi_value {
    match build_js_error(env, &e) {
        Ok(error) => error.raw(),
        Err(_) => plain_error(env, &e.to_string()),
    }
}

/// Building the user data failed: reject with the exception JS left pending, if any.
fn rejection_of_napi_error(env: &Env, e: Error) -> sys::napi_value {
    take_exception(env).unwrap_or_else(|| plain_error(env, &e.reason))
}

/// The JS exception pending on this thread (JS code run by a Node-API call threw: a getter, a
/// setter on `Array.prototype`), cleared, so that it fails nothing else; `None` if there is none.
fn take_exception(env: &Env) -> Option<sys::napi_value> {
    let mut pending = false;
    let mut exception = std::ptr::null_mut();
    // SAFETY: Node-API calls on the JS thread.
    unsafe {
        (sys::napi_is_exception_pending(env.raw(), &mut pending) == sys::Status::napi_ok
            && pending
            && sys::napi_get_and_clear_last_exception(env.raw(), &mut exception)
                == sys::Status::napi_ok)
            .then_some(exception)
    }
}

fn plain_error(env: &Env, message: &str) -> sys::napi_value {
    match env.create_error(Error::new(Status::GenericFailure, message.to_owned())) {
        Ok(error) => error.raw(),
        Err(_) => {
            let mut undefined = std::ptr::null_mut();
            // SAFETY: Node-API call on the JS thread.
            unsafe { sys::napi_get_undefined(env.raw(), &mut undefined) };
            undefined
        }
    }
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
    let mut error = if e.code() == code::INVALID_ARGUMENT {
        // Node's convention for ERR_INVALID_ARG_TYPE, and index.js's own argument errors.
        type_error(env, &message)?
    } else {
        env.create_error(Error::new(Status::GenericFailure, message))?
    };
    error.set_named_property("code", e.code())?;
    if let Some(why) = e.rejected() {
        // Why the response token was refused, which civic-sip-api's one message does not say.
        error.set_named_property("reason", why.as_str())?;
        match *why {
            Rejected::Expired { exp } => {
                error.set_named_property("expiredAt", env.create_date(exp * 1000.0)?)?
            }
            Rejected::NotYetValid { not_before } => {
                error.set_named_property("notBefore", env.create_date(not_before * 1000.0)?)?
            }
            _ => {}
        }
    }
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

fn type_error<'env>(env: &'env Env, message: &str) -> Result<Object<'env>> {
    let message = env.create_string(message)?;
    let mut error = std::ptr::null_mut();
    // SAFETY: a Node-API call on the JS thread with this thread's env; no code argument.
    check_status!(unsafe {
        sys::napi_create_type_error(env.raw(), std::ptr::null_mut(), message.raw(), &mut error)
    })?;
    Ok(Object::from_raw(env.raw(), error))
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
/// The connections run here too; their reads are metered (`core::http::connection`), so a server flooding
/// one cannot delay the deadlines and aborts this worker keeps.
#[napi_derive::module_init]
fn init() {
    if let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_start(|| {
            crate::core::priority::lower_thread_priority(crate::core::priority::NICE)
        })
        .enable_all()
        .build()
    {
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_numbers_become_rust_types_or_the_cores_messages() {
        let message = |e: CoreError| e.to_string();
        for bad in [0.0, -0.0, -1.0, 1e-9, f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(
                timeout_from_ms(bad).map_err(message),
                Err(config::TIMEOUT_MESSAGE.to_owned()),
                "{bad}"
            );
        }
        for huge in [1e22, 1e300, f64::MAX, f64::INFINITY] {
            assert_eq!(timeout_from_ms(huge).ok(), Some(config::MAX_TIMEOUT));
        }
        assert_eq!(
            timeout_from_ms(1500.0).ok(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(timeout_from_ms(1e-6).ok(), Some(Duration::from_nanos(1)));

        assert_eq!(bytes_from_js(1.0).ok(), Some(1));
        assert_eq!(bytes_from_js(65536.0).ok(), Some(65536));
        assert_eq!(bytes_from_js(f64::INFINITY).ok(), Some(usize::MAX));
        assert_eq!(bytes_from_js(1e300).ok(), Some(usize::MAX));
        for bad in [0.0, -0.0, -1.0, 1.5, f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(
                bytes_from_js(bad).map_err(message),
                Err(config::MAX_RESPONSE_BYTES_MESSAGE.to_owned()),
                "{bad}"
            );
        }

        assert_eq!(retries_from_js(-0.0).ok(), Some(0));
        assert_eq!(retries_from_js(10.0).ok(), Some(10));
        for bad in [-1.0, 0.5, 11.0, f64::INFINITY, f64::NAN] {
            assert_eq!(
                retries_from_js(bad).map_err(message),
                Err("retries must be an integer from 0 to 10".to_owned()),
                "{bad}"
            );
        }
    }

    fn native(timeout: Option<f64>, app_secret: Option<&str>) -> NativeOptions {
        NativeOptions {
            app_id: Some("app".into()),
            app_secret: app_secret.map(Into::into),
            prv_key: Some("1".into()),
            env: None,
            api: None,
            include_stage_in_url: None,
            proxy: None,
            civic_public_keys: None,
            timeout,
            max_response_bytes: Some(f64::NAN),
            ca: None,
            retries: None,
            node_version: None,
            llhttp_version: None,
            openssl_version: None,
        }
    }

    #[test]
    fn a_missing_option_is_reported_before_a_bad_number_and_numbers_in_order() {
        let message = |o: NativeOptions| o.into_options().map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(
            message(native(Some(0.0), None)),
            Err("Please supply your application secret.".to_owned())
        );
        assert_eq!(
            message(native(Some(0.0), Some("s"))),
            Err(config::TIMEOUT_MESSAGE.to_owned())
        );
        assert_eq!(
            message(native(None, Some("s"))),
            Err(config::MAX_RESPONSE_BYTES_MESSAGE.to_owned())
        );
    }
}
