//! An exchange's promise: its work spawned on the tokio runtime, its outcome settled on the JS
//! thread that made it (through that thread's settler), its `NODE_DEBUG` lines handed over first.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::{check_status, sys, Env, JsValue};

use super::settler::{settler, started_one, Settler};
use super::values::{rejection, rejection_of_napi_error, take_exception, to_js_user_data};
use crate::core::error::{Error as CoreError, ErrorKind};
use crate::core::exchange::debuglog::Steps;
use crate::core::UserData;

/// Runs an exchange on the tokio runtime and settles its promise on the JS thread. Every exchange
/// of a JS thread reports through that thread's one threadsafe function ([`settler`]) instead of
/// one made per call (napi-rs's `spawn_future_with_callback`): no libuv handle, async resource and
/// cleanup hook set up and torn down per exchange, no second wake-up of the loop to release it,
/// and replies that arrive together are settled in one wake-up. A panic in the work, or the work being dropped, still
/// settles the promise (see [`Pending`]).
///
/// With a `steps` array, the work gets a collector and its lines land in the array just before
/// the promise settles: one hand-over per exchange, none while nothing is recorded.
pub(super) fn settle<'env, F>(
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
pub(super) struct Completion {
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

// SAFETY: the deferred and the reference are only handed back to the JS thread that made them,
// never used elsewhere.
unsafe impl Send for Completion {}

/// Resolves or rejects one exchange's promise, on the JS thread.
///
/// # Safety
/// On the JS thread whose `env` this is, the one that made `completion`'s deferred and
/// reference (see [`settle`]), inside a handle scope; neither has been used up: the deferred is
/// settled and the reference deleted here, once.
pub(super) unsafe fn settle_one(env: Env, completion: Completion) {
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
            // SAFETY: the reference is this env's, not yet deleted (this function's contract).
            unsafe { hand_over(&env, lines, reference) };
        }
        let status = match outcome.map(|user_data| to_js_user_data(&env, user_data)) {
            Ok(Ok(value)) => {
                // SAFETY: the deferred made with this env, settled exactly once, here.
                unsafe { sys::napi_resolve_deferred(env.raw(), deferred, value.raw()) }
            }
            // SAFETY (both): the deferred is this env's and not yet settled; the reason was
            // just made in this scope.
            Ok(Err(e)) => unsafe { reject(&env, deferred, rejection_of_napi_error(&env, e)) },
            Err(e) => unsafe { reject(&env, deferred, rejection(&env, e)) },
        };
        if status == sys::Status::napi_ok {
            settled.set(true);
        } else if let Some(exception) = take_exception(&env) {
            // A JS exception left pending made the settle itself fail: the promise rejects with
            // it rather than stay pending (and the next exchange does not inherit it).
            // SAFETY: settling failed, so the deferred is still unsettled.
            settled.set(unsafe { reject(&env, deferred, exception) } == sys::Status::napi_ok);
        }
    }));
    // Whatever JS threw while this exchange was settled is this exchange's alone.
    let _ = take_exception(&env);
    if !settled.get() {
        // Building the result panicked, or failed, before the promise was settled: it rejects
        // with ERR_CIVIC_INTERNAL rather than stay pending.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let internal = CoreError::new(ErrorKind::Internal).via_exchange_code();
            // SAFETY: `settled` is false: the deferred is still unsettled.
            unsafe { reject(&env, deferred, rejection(&env, internal)) };
        }));
    }
}

/// Puts the recorded lines into the JS array (before the promise settles, so they are there for
/// whoever awaits it) and releases the reference to it.
///
/// # Safety
/// On the JS thread whose `env` this is, which made `reference`; the reference has not been
/// deleted (it is deleted here).
unsafe fn hand_over(env: &Env, lines: Vec<String>, reference: sys::napi_ref) {
    let mut array = std::ptr::null_mut();
    // SAFETY: Node-API calls on the JS thread that made `reference` (this function's contract).
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

/// Rejects the promise of `deferred` with `reason`.
///
/// # Safety
/// On the JS thread whose `env` this is, which made `deferred`; `deferred` is not yet settled (a
/// settled one is freed) and `reason` is a value of the current scope.
unsafe fn reject(
    env: &Env,
    deferred: sys::napi_deferred,
    reason: sys::napi_value,
) -> sys::napi_status {
    // SAFETY: as the caller guarantees.
    unsafe { sys::napi_reject_deferred(env.raw(), deferred, reason) }
}
