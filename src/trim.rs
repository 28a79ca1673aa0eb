//! Gives the memory a burst freed back to the system (glibc only).
//!
//! A login storm (every login is sent to every user) grows each connection's queue for a
//! moment; once the queues drain, the memory is free but glibc's allocator keeps it, scattered
//! between live allocations, so the process's RSS stays at the storm's peak: about 6 KiB per
//! idle connection instead of the 2.5 KiB live. Once a second a thread of its own asks the
//! allocator how much it holds unused, and past [`TRIM_ABOVE`] (1 MiB) returns it (`malloc_trim`),
//! which hands back whole free pages wherever they are. At rest both calls cost microseconds.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
use std::time::Duration;

/// How often the allocator is asked.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const PERIOD: Duration = Duration::from_secs(1);
/// Free memory the allocator may keep before it is asked to return it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_ABOVE: usize = 1 << 20;

/// Starts the trimming thread; without glibc, does nothing. A thread that cannot start only
/// costs memory, so that is not an error.
pub fn start() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    let _ = std::thread::Builder::new().name("trim".into()).spawn(|| {
        loop {
            std::thread::sleep(PERIOD);
            // SAFETY: both are plain glibc calls with no pointer arguments; glibc makes
            // them safe to call while other threads allocate.
            let free = unsafe { libc::mallinfo2() }.fordblks;
            if free > TRIM_ABOVE {
                unsafe { libc::malloc_trim(0) };
            }
        }
    });
}
