//! The scheduling priority of the thread that runs the exchanges.

/// The nice value of the exchanges' worker: below the JavaScript thread.
pub const NICE: i32 = 10;

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
