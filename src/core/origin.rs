//! Each server's connections run on a thread of their own, so one server cannot slow the others.
//!
//! hyper's HTTP/1 client parses and discards interim (1xx) responses in a loop inside one read of
//! the response head: each read can bring hundreds of kilobytes of `103 Early Hints`, and tokio's
//! cooperative budget counts reads, not the work they bring, so a connection fed such a stream
//! holds its thread for hundreds of milliseconds between yields. reqwest gives no way to wrap the
//! connection's reads or count the interim bytes. So the connection tasks hyper spawns for a
//! request run on a runtime of the request's origin (scheme, host, port), never on the thread that
//! runs the exchanges, their deadlines and their aborts, nor on another origin's.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};

use tokio::runtime::{Builder, Handle, Runtime};

/// Most origins with a thread of their own; further ones share those threads by a hash. An app
/// talks to two (Civic's API and its payload host); the rest leaves room for test servers,
/// redirects and a process that serves several apps. An origin keeps its thread for the life of
/// the process: its pooled connections' tasks stay there.
const MAX_ORIGIN_THREADS: usize = 32;

/// The runtimes, kept for the life of the process (a runtime cannot be dropped from async code).
struct Runtimes {
    by_origin: HashMap<String, usize>,
    runtimes: Vec<Runtime>,
}

fn runtimes() -> &'static Mutex<Runtimes> {
    static RUNTIMES: OnceLock<Mutex<Runtimes>> = OnceLock::new();
    RUNTIMES.get_or_init(|| {
        Mutex::new(Runtimes {
            by_origin: HashMap::new(),
            runtimes: Vec::new(),
        })
    })
}

/// The handle of the runtime that drives `origin`'s connections, started on first use. `None`
/// if no thread could be started: then the caller's runtime drives them, as before.
fn handle_for(origin: &str) -> Option<Handle> {
    let mut state = runtimes()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(&i) = state.by_origin.get(origin) {
        return state.runtimes.get(i).map(|r| r.handle().clone());
    }
    if state.runtimes.len() >= MAX_ORIGIN_THREADS {
        // Past the cap, origins share threads by hash and are not remembered, so the map
        // stays as small as the thread list however many origins a process meets.
        let i = fnv1a(origin) % MAX_ORIGIN_THREADS;
        return state.runtimes.get(i).map(|r| r.handle().clone());
    }
    let runtime = Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("civic-sip-origin")
        .on_thread_start(|| lower_thread_priority(CONNECTION_NICE))
        .enable_all()
        .build()
        .ok()?;
    let handle = runtime.handle().clone();
    let i = state.runtimes.len();
    state.runtimes.push(runtime);
    state.by_origin.insert(origin.to_owned(), i);
    Some(handle)
}

fn fnv1a(text: &str) -> usize {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) as usize
}

/// Runs `future` here, but with `url`'s origin runtime entered while it is polled, so the
/// connection tasks and I/O it starts belong to that runtime. Its own timers and the caller's
/// stay where they are.
/// A URL that does not parse keeps the caller's runtime (the request fails on it anyway).
pub fn on_origin_of<F: Future>(url: &str, future: F) -> OnOrigin<F> {
    let handle = reqwest::Url::parse(url).ok().and_then(|url| {
        handle_for(&format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        ))
    });
    OnOrigin {
        handle,
        inner: Box::pin(future),
    }
}

/// See `on_origin_of`.
pub struct OnOrigin<F> {
    handle: Option<Handle>,
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for OnOrigin<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _entered = this.handle.as_ref().map(Handle::enter);
        this.inner.as_mut().poll(cx)
    }
}

/// The nice value of the exchanges' worker: below the JavaScript thread.
pub const NICE: i32 = 10;
/// The nice value of the connection threads: below the exchanges' worker too, so that on a busy
/// machine a flooded connection's parsing never stands between a deadline and its worker, nor
/// between a healthy exchange's signing or verifying and the CPU.
const CONNECTION_NICE: i32 = NICE + 5;

/// Lowers the calling thread's scheduling priority to `nice`, so that on a busy machine the
/// JavaScript thread, which serves the whole app, runs first. Linux schedules threads
/// individually; elsewhere the thread keeps the default priority.
pub fn lower_thread_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread; a failure only leaves the priority as it was.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_spawned_inside_run_on_the_origins_thread_and_each_origin_has_its_own() {
        let thread_of = |url: &str| {
            on_origin_of(url, async {
                tokio::spawn(async { std::thread::current().id() })
                    .await
                    .expect("joined")
            })
        };
        let here = std::thread::current().id();
        let a = thread_of("http://127.0.0.1:1/x").await;
        let a_again = thread_of("http://127.0.0.1:1/y?z").await;
        let b = thread_of("http://127.0.0.1:2/").await;
        assert_ne!(a, here);
        assert_eq!(a, a_again);
        assert_ne!(a, b);
    }
}
