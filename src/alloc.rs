//! The process's memory allocator: jemalloc, configured to hand back what a burst freed.
//!
//! A login storm (every login is sent to every user) grows each connection's queue for a
//! moment. With glibc's allocator the memory the storm freed stayed scattered between the
//! connections' live allocations, so the process kept about 0.9 KiB per idle connection
//! beyond its live heap even with `malloc_trim` once a second (tokio_chat: 2.5-2.7 KiB per
//! idle connection against the 2 KiB target). jemalloc keeps each size class in pages of its
//! own, so the storm's short-lived payloads and queue vectors leave whole pages free once they
//! are gone, and a background thread returns free pages about a second after they went idle
//! (`dirty_decay_ms:1000`; `muzzy_decay_ms:0` returns them at once rather than lazily, so the
//! RSS shows it). Measured with `scripts/bench-ab.sh` (docs/benchmark-rounds.md): tokio_chat
//! 2.5 → 1.6 KiB per idle connection, no server slower.
//!
//! The options can still be changed at run time through the `_RJEM_MALLOC_CONF` environment
//! variable (jemalloc's `MALLOC_CONF`, prefixed as this build names its symbols).
//!
//! jemalloc does not build for MSVC; there the system allocator is used.

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// What jemalloc reads at start-up (a C string; it may be read before `main`, so a static).
#[cfg(not(target_env = "msvc"))]
const CONF: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// jemalloc's `malloc_conf` global, under this build's symbol prefix.
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: Option<&u8> = Some(&CONF[0]);

#[cfg(all(test, target_os = "linux", not(target_env = "msvc")))]
mod tests {
    use std::time::{Duration, Instant};

    /// The process's resident memory, from `/proc/self/statm` (in pages: size, resident, …).
    fn resident_bytes() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
        let pages: usize = statm
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("resident pages");
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        pages * usize::try_from(page).expect("page size")
    }

    #[test]
    fn jemalloc_reads_the_configuration() {
        // Stored in the static jemalloc reads, and read by jemalloc: its background thread
        // option is off by default.
        assert_eq!(super::MALLOC_CONF, Some(&super::CONF[0]));
        assert!(
            tikv_jemalloc_ctl::opt::background_thread::read().expect("opt.background_thread"),
            "jemalloc did not take `background_thread:true` from `_rjem_malloc_conf`"
        );
    }

    /// What a burst freed goes back to the system while the process is at rest, without any
    /// further allocation to trigger it (jemalloc's default would keep it for 10 seconds and
    /// longer, until something allocates).
    #[test]
    fn memory_a_burst_freed_is_returned_while_idle() {
        const BURST: usize = 256 << 20;
        let before = resident_bytes();
        // Many small blocks, as a login storm's payloads and queue vectors are.
        let mut blocks: Vec<Box<[u8; 256]>> = Vec::with_capacity(BURST / 256);
        for i in 0..BURST / 256 {
            blocks.push(Box::new([i as u8; 256]));
        }
        let peak = resident_bytes();
        assert!(peak >= before + BURST / 2, "the burst was not resident");
        drop(blocks);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let now = resident_bytes();
            if now < before + BURST / 4 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} MiB of a {} MiB burst still resident 20 s after it was freed",
                (now - before) >> 20,
                BURST >> 20
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
