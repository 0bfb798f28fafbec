//! The scheduling priority of the thread that runs the exchanges.

/// The nice value of the exchanges' worker: below the JavaScript thread.
pub const NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority to `nice`, so that on a busy machine the
/// JavaScript thread, which serves the whole app, runs first. On Linux the thread also becomes
/// `SCHED_BATCH` (nice kept): its wake-ups, when a reply arrives, never preempt the JavaScript
/// thread, which now finishes its turn first. Linux schedules threads individually; elsewhere the
/// thread keeps the default priority.
pub fn lower_thread_priority(nice: i32) {
    // By system call numbers, not libc's wrappers: glibc has `gettid` only from 2.30 (the
    // published gnu builds link against 2.17's symbols), and musl's `sched_setscheduler` does
    // nothing but fail with ENOSYS (and its `sched_param` has more fields than glibc's).
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread; a failure only leaves the priority as it was.
    // The kernel reads only `sched_priority` (0 for SCHED_BATCH) of the zeroed parameter.
    unsafe {
        let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, thread, nice);
        let param: libc::sched_param = std::mem::zeroed();
        libc::syscall(
            libc::SYS_sched_setscheduler,
            0,
            libc::SCHED_BATCH,
            &param as *const libc::sched_param,
        );
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
                    libc::getpriority(
                        libc::PRIO_PROCESS,
                        libc::syscall(libc::SYS_gettid) as libc::id_t,
                    ),
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
