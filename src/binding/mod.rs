//! The thin napi layer: JS options in, JS values and JS errors out. Everything else is the core.
//!
//! - `options`: the options object into the core's `Options` (JS numbers checked), and
//!   `describeOptions`.
//! - `classes`: `NativeClient`, `NativeAbort`, `NativeTrust`.
//! - `settle` and `settler`: an exchange runs on the tokio runtime; its promise settles on its JS
//!   thread, reached through that thread's one threadsafe function and a queue drained once per
//!   wake-up.
//! - `values`: user data and errors as JS values (`code`, `reason`, `response`).
//! - `exports`: `ERROR_CODES`, `VERIFICATION_REASONS`, `redactUrl`, `trustSetsParsed`.

mod classes;
mod exports;
mod options;
mod settle;
mod settler;
mod values;

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
