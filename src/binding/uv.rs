//! Waking a JS thread through a libuv async handle of its own, where the host exports libuv
//! (Node does on Linux, and Node-API gives addons its loop: `napi_get_uv_event_loop`).
//!
//! Why not only Node's threadsafe function: `napi_call_threadsafe_function` wakes the loop while
//! holding the function's mutex, which the woken JS thread takes next. When the two threads share
//! a core and the JS thread has the higher priority (the worker runs at nice 10), the JS thread
//! preempts the worker at once, blocks on that mutex, and preempts it again when it is released:
//! four context switches per wake-up where two do. `uv_async_send` takes no lock.
//!
//! The functions are looked up at run time (`dlsym`), so a host without them (an embedder that
//! does not export libuv) gets the threadsafe function instead, and nothing is linked against.

use std::ffi::{c_int, c_void, CStr};
use std::sync::{Arc, OnceLock};

use napi::sys;

use super::{deliver_queue, Shared};

type Callback = Option<unsafe extern "C" fn(*mut c_void)>;

/// The libuv functions used, from libuv's stable 1.x ABI.
struct Api {
    handle_size: unsafe extern "C" fn(c_int) -> usize,
    async_init: unsafe extern "C" fn(*mut c_void, *mut c_void, Callback) -> c_int,
    async_send: unsafe extern "C" fn(*mut c_void) -> c_int,
    close: unsafe extern "C" fn(*mut c_void, Callback),
    set_ref: unsafe extern "C" fn(*mut c_void),
    unref: unsafe extern "C" fn(*mut c_void),
}

/// `UV_ASYNC` in libuv's `uv_handle_type`.
const UV_ASYNC: c_int = 1;

fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(|| {
        let find = |name: &CStr| {
            // SAFETY: a lookup in the symbols already loaded into the process.
            let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            (!found.is_null()).then_some(found)
        };
        // SAFETY: each symbol is libuv's function of that name, with the signature libuv 1.x
        // declares for it.
        unsafe {
            Some(Api {
                handle_size: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(c_int) -> usize>(
                    find(c"uv_handle_size")?,
                ),
                async_init: std::mem::transmute::<
                    *mut c_void,
                    unsafe extern "C" fn(*mut c_void, *mut c_void, Callback) -> c_int,
                >(find(c"uv_async_init")?),
                async_send: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut c_void) -> c_int>(
                    find(c"uv_async_send")?,
                ),
                close: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut c_void, Callback)>(
                    find(c"uv_close")?,
                ),
                set_ref: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut c_void)>(
                    find(c"uv_ref")?,
                ),
                unref: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut c_void)>(
                    find(c"uv_unref")?,
                ),
            })
        }
    })
    .as_ref()
}

/// The variable that turns the libuv wake-up off (`CIVIC_SIP_NATIVE_WAKER=tsfn`): an operator's
/// way back to Node's threadsafe function without a new release.
pub(super) const WAKER_VARIABLE: &str = "CIVIC_SIP_NATIVE_WAKER";

/// Whether the host is Node itself, whose libuv this module drives: `process.release.name` is
/// `'node'` and `process.versions` names neither Bun nor Deno. Both answer Node-API and resolve
/// `uv_*` names, but Bun's are stubs that abort the process when called, and Deno's a partial
/// set; so anything else, or a failure to tell, gets the threadsafe function. An allow-list, not
/// a symbol check: stubs resolve as real functions do.
fn node_itself(env: sys::napi_env) -> bool {
    if std::env::var_os(WAKER_VARIABLE).is_some_and(|v| v == "tsfn") {
        return false;
    }
    use napi::bindgen_prelude::{JsObjectValue, Object};
    let env = napi::Env::from_raw(env);
    let check = || -> napi::Result<bool> {
        let process: Object = env.get_global()?.get_named_property("process")?;
        let release: Object = process.get_named_property("release")?;
        let name: Option<String> = release.get_named_property("name")?;
        let versions: Object = process.get_named_property("versions")?;
        Ok(name.as_deref() == Some("node")
            && !versions.has_named_property("bun")?
            && !versions.has_named_property("deno")?)
    };
    check().unwrap_or(false)
}

/// A JS thread's async handle and what its callback needs to enter JS. Owned by the handle
/// (its `data`) from creation until libuv has closed it.
pub(super) struct Async {
    /// The `uv_async_t`: `words` u64s (at least `uv_handle_size(UV_ASYNC)` bytes, aligned), a raw
    /// allocation because libuv writes to it from both threads while `Async` is only read.
    handle: *mut u64,
    words: usize,
    env: sys::napi_env,
    resource: sys::napi_ref,
    context: sys::napi_async_context,
    cleanup: sys::napi_async_cleanup_hook_handle,
    shared: Arc<Shared>,
}

impl Async {
    fn handle(&self) -> *mut c_void {
        self.handle.cast()
    }
}

impl Drop for Async {
    fn drop(&mut self) {
        // SAFETY: the allocation `open` made, freed once, after libuv has let go of it.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.handle, self.words)) });
    }
}

/// An async handle on this JS thread's loop whose callback settles `shared`'s queue, unref'd;
/// `None` where libuv or a Node-API call is not available (the caller falls back).
///
/// # Safety
/// On the JS thread of `env`.
pub(super) unsafe fn open(env: sys::napi_env, shared: &Arc<Shared>) -> Option<*mut Async> {
    if !node_itself(env) {
        return None;
    }
    let api = api()?;
    let ok = |status| status == sys::Status::napi_ok;
    let mut event_loop = std::ptr::null_mut();
    let mut resource = std::ptr::null_mut();
    let mut name = std::ptr::null_mut();
    let mut context = std::ptr::null_mut();
    const NAME: &str = "civic-sip-native exchange (libuv wake-up)";
    // SAFETY (all calls below): Node-API and libuv calls on the JS thread, with its env and loop.
    unsafe {
        if !(ok(sys::napi_get_uv_event_loop(env, &mut event_loop))
            && ok(sys::napi_create_object(env, &mut resource))
            && ok(sys::napi_create_string_utf8(
                env,
                NAME.as_ptr().cast(),
                NAME.len() as isize,
                &mut name,
            ))
            && ok(sys::napi_async_init(env, resource, name, &mut context)))
        {
            return None;
        }
        let mut reference = std::ptr::null_mut();
        if !ok(sys::napi_create_reference(env, resource, 1, &mut reference)) {
            sys::napi_async_destroy(env, context);
            return None;
        }
        let bytes = (api.handle_size)(UV_ASYNC);
        if bytes == 0 || bytes > 4096 {
            // Not a libuv this code knows.
            forget_js_parts(env, reference, context);
            return None;
        }
        let words = bytes.div_ceil(std::mem::size_of::<u64>());
        let handle = Box::into_raw(vec![0u64; words].into_boxed_slice());
        let state = Box::into_raw(Box::new(Async {
            handle: handle.cast(),
            words,
            env,
            resource: reference,
            context,
            cleanup: std::ptr::null_mut(),
            shared: Arc::clone(shared),
        }));
        let handle = (*state).handle();
        if (api.async_init)(event_loop.cast(), handle, Some(wake_up)) != 0 {
            forget_js(&*state);
            drop(Box::from_raw(state));
            return None;
        }
        // `data`, the first field of every libuv handle: how the callbacks find their state.
        *handle.cast::<*mut Async>() = state;
        (api.unref)(handle);
        if !ok(sys::napi_add_async_cleanup_hook(
            env,
            Some(close),
            state.cast(),
            &mut (*state).cleanup,
        )) {
            // Nothing would close it before the loop ends: close it now, unused.
            forget_js(&*state);
            (api.close)(handle, Some(closed));
            return None;
        }
        Some(state)
    }
}

/// Wakes the JS thread; `false` if it could not be.
///
/// # Safety
/// `state` open: the caller holds the lock that [`close`] takes before closing it.
pub(super) unsafe fn send(state: *mut Async) -> bool {
    // SAFETY: open, as the caller guarantees; `uv_async_send` may be called from any thread.
    api().is_some_and(|api| unsafe { (api.async_send)((*state).handle()) } == 0)
}

/// Keeps the loop alive, or stops keeping it, as a pending request would.
///
/// # Safety
/// On the JS thread that opened `state`, which is open.
pub(super) unsafe fn keep_alive(state: *mut Async, keep: bool) {
    if let Some(api) = api() {
        // SAFETY: as the caller guarantees.
        unsafe {
            let handle = (*state).handle();
            if keep {
                (api.set_ref)(handle)
            } else {
                (api.unref)(handle)
            }
        }
    }
}

/// The handle's callback, on the JS thread: settles what is queued inside a callback scope, so
/// that promise reactions and `process.nextTick` run after it as after any I/O callback.
unsafe extern "C" fn wake_up(handle: *mut c_void) {
    // SAFETY: `data` is the state `open` stored; it lives until the handle is closed.
    let state = unsafe { &*(*handle.cast::<*mut Async>()) };
    let env = state.env;
    let mut handles = std::ptr::null_mut();
    // SAFETY: Node-API calls on the JS thread, with scopes closed in reverse order.
    unsafe {
        if sys::napi_open_handle_scope(env, &mut handles) != sys::Status::napi_ok {
            // Only while the environment is torn down, and its promises with it.
            return;
        }
        let mut resource = std::ptr::null_mut();
        let mut scope = std::ptr::null_mut();
        let entered = sys::napi_get_reference_value(env, state.resource, &mut resource)
            == sys::Status::napi_ok
            && !resource.is_null()
            && sys::napi_open_callback_scope(env, resource, state.context, &mut scope)
                == sys::Status::napi_ok;
        deliver_queue(env, &state.shared);
        if entered {
            sys::napi_close_callback_scope(env, scope);
        }
        sys::napi_close_handle_scope(env, handles);
    }
}

/// The environment is being torn down: no exchange may wake the handle from now on; then libuv
/// closes it, and Node waits for that ([`closed`]) before it frees the loop.
unsafe extern "C" fn close(remove: sys::napi_async_cleanup_hook_handle, data: *mut c_void) {
    let state = data.cast::<Async>();
    // SAFETY: the state `open` registered this hook with; open until `closed`.
    unsafe {
        super::closing(&(*state).shared);
        // Only now: no exchange can be reading the state any more.
        (*state).cleanup = remove;
        forget_js(&*state);
        if let Some(api) = api() {
            (api.close)((*state).handle(), Some(closed));
        }
    }
}

/// # Safety
/// On the JS thread of the state's env, once per state.
unsafe fn forget_js(state: &Async) {
    // SAFETY: as the caller guarantees.
    unsafe { forget_js_parts(state.env, state.resource, state.context) }
}

/// # Safety
/// On the JS thread of `env`, once per reference and context.
unsafe fn forget_js_parts(
    env: sys::napi_env,
    resource: sys::napi_ref,
    context: sys::napi_async_context,
) {
    // SAFETY: as the caller guarantees.
    unsafe {
        sys::napi_delete_reference(env, resource);
        sys::napi_async_destroy(env, context);
    }
}

/// libuv closed the handle: free its state and let Node finish the teardown.
unsafe extern "C" fn closed(handle: *mut c_void) {
    // SAFETY: the state `open` stored in `data`, freed here once.
    let state = unsafe { Box::from_raw(*handle.cast::<*mut Async>()) };
    let remove = state.cleanup;
    drop(state);
    if !remove.is_null() {
        // SAFETY: the hook Node passed to `close`, removed once.
        unsafe { sys::napi_remove_async_cleanup_hook(remove) };
    }
}
