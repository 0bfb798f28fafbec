//! A JS thread's settler: one threadsafe function per JS thread, through which every exchange of
//! that thread comes back, and the queue of finished exchanges one wake-up drains.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::{check_status, sys, Env};

use super::settle::{settle_one, Completion};

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
pub(super) struct Settler(Arc<Shared>);

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

fn locked<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Settler {
    /// Queues a finished exchange for its JS thread, and wakes it unless a wake-up is already on
    /// its way (replies that finish before the JS thread runs are settled in one wake-up).
    pub(super) fn finish(&self, completion: Completion) {
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
pub(super) fn settler(env: &Env) -> Result<Settler> {
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

/// An exchange of this JS thread has started: the first one keeps the event loop alive.
pub(super) fn started_one(env: &Env) {
    let before = IN_FLIGHT.with(|n| n.replace(n.get() + 1));
    if let (0, Some(waker)) = (before, own_waker()) {
        // SAFETY: on the JS thread that owns the settler, which is open.
        unsafe { waker.keep_alive(env.raw(), true) };
    }
}

/// An exchange of this JS thread has settled: the last one lets the event loop end.
///
/// # Safety
/// On the JS thread whose `env` this is.
unsafe fn settled_one(env: sys::napi_env) {
    let after = IN_FLIGHT.with(|n| {
        n.set(n.get().saturating_sub(1));
        n.get()
    });
    if let (0, Some(waker)) = (after, own_waker()) {
        // SAFETY: as in `started_one`.
        unsafe { waker.keep_alive(env, false) };
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
        // SAFETY: Node calls this on the JS thread of `env`, whose settler this is.
        unsafe { deliver_queue(env, &settler.0) };
    }
}

/// Settles every exchange queued so far, in the order they finished.
///
/// # Safety
/// On the JS thread whose `env` this is and whose settler `shared` is.
unsafe fn deliver_queue(env: sys::napi_env, shared: &Shared) {
    let done = {
        let mut queue = locked(&shared.queue);
        queue.woken = false;
        std::mem::take(&mut queue.done)
    };
    for completion in done {
        // SAFETY: on the JS thread of `env` (this function's contract).
        unsafe { settled_one(env) };
        // Each exchange's values are freed with its own scope, however many there are.
        let mut scope = std::ptr::null_mut();
        // SAFETY: Node-API calls on the JS thread; the scope is closed below, once.
        let opened =
            unsafe { sys::napi_open_handle_scope(env, &mut scope) } == sys::Status::napi_ok;
        // SAFETY: on the JS thread that made the completion's deferred and reference (they come
        // back only to their own thread's settler), inside the scope just opened if any; each
        // completion is taken from the queue once.
        unsafe { settle_one(Env::from_raw(env), completion) };
        if opened {
            // SAFETY: the scope opened above, the innermost one.
            unsafe { sys::napi_close_handle_scope(env, scope) };
        }
    }
}
