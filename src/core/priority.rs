//! The scheduling priority of the thread that runs the exchanges.

/// The nice value of the exchanges' worker: below the JavaScript thread.
pub const NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority to `nice`, so that on a busy machine the
/// JavaScript thread, which serves the whole app, runs first. On Linux the thread also becomes
/// `SCHED_BATCH` (nice kept): its wake-ups, when a reply arrives, never preempt the JavaScript
/// thread, which now finishes its turn first. Linux schedules threads individually; elsewhere the
/// thread keeps the default priority.
pub fn lower_thread_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread; a failure only leaves the priority as it was.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice);
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_worker_thread_is_batch_at_the_lower_priority() {
        let (policy, priority) = std::thread::spawn(|| {
            lower_thread_priority(NICE);
            // SAFETY: plain syscalls on the calling thread.
            unsafe {
                (
                    libc::sched_getscheduler(0),
                    libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t),
                )
            }
        })
        .join()
        .unwrap();
        assert_eq!(policy, libc::SCHED_BATCH);
        // At least NICE: a process started nicer than that stays so (raising needs a capability).
        assert!(priority >= NICE, "{priority}");
    }
}
