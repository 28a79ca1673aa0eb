//! Operating-system measurements: file-descriptor limit, own CPU time, a server's CPU and RSS
//! from `/proc`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::time::Duration;

/// Raises the soft `RLIMIT_NOFILE` to at least `wanted` (up to the hard limit).
///
/// Returns the soft limit now in force; it may be below `wanted` if the hard limit is lower.
pub fn raise_nofile(wanted: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur >= wanted {
        return Ok(lim.rlim_cur);
    }
    let new = libc::rlimit {
        rlim_cur: wanted.min(lim.rlim_max),
        rlim_max: lim.rlim_max,
    };
    // SAFETY: `new` is a valid rlimit struct that outlives the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(new.rlim_cur)
}

/// Whether process `pid` holds a TCP socket listening on `port` (IPv4 or IPv6), from
/// `/proc/net/tcp*` and the process's open files; `None` when that cannot be told (nothing
/// listens there, which the connections will report; another user's process; no `/proc`).
pub fn listens_on(pid: u32, port: u16) -> Option<bool> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        inodes.extend(listening_inodes(&text, port));
    }
    if inodes.is_empty() {
        return None;
    }
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(fds.flatten().any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|link| {
            link.to_str()
                .and_then(|l| l.strip_prefix("socket:["))
                .and_then(|l| l.strip_suffix(']'))
                .and_then(|inode| inode.parse::<u64>().ok())
                .is_some_and(|inode| inodes.contains(&inode))
        })
    }))
}

/// The inodes of the sockets a `/proc/net/tcp` table lists as listening (state `0A`) on `port`.
fn listening_inodes(table: &str, port: u16) -> impl Iterator<Item = u64> + '_ {
    table.lines().skip(1).filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local_port = fields.get(1)?.rsplit(':').next()?;
        let listening = *fields.get(3)? == "0A";
        (listening && u16::from_str_radix(local_port, 16).ok()? == port)
            .then(|| fields.get(9)?.parse().ok())
            .flatten()
    })
}

/// User + system CPU time used so far by this process (all threads).
pub fn own_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid and writable; RUSAGE_SELF is always accepted.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
}

/// Clock ticks per second for `/proc/PID/stat` times.
fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// One look at a process.
#[derive(Debug, Clone, Default)]
pub struct ProcSample {
    /// utime + stime from `/proc/PID/stat`, in nanoseconds (clock-tick resolution, usually 10 ms).
    pub cpu_ns: u64,
    /// utime alone (user space), in nanoseconds, same resolution.
    pub user_ns: u64,
    /// stime alone (the Linux kernel working for the process: system calls, and on loopback
    /// the receiving side's network processing and wake-ups too), in nanoseconds.
    pub system_ns: u64,
    /// Per-thread on-CPU nanoseconds from `/proc/PID/task/*/schedstat` (nanosecond resolution).
    pub threads_ns: BTreeMap<u32, u64>,
    /// Resident set size in KiB (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size in KiB (`VmHWM`).
    pub rss_peak_kib: u64,
}

/// Reads CPU time and memory of process `pid`.
pub fn sample_process(pid: u32) -> io::Result<ProcSample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| match e.kind() {
        // The process is gone (or never was): say so, not which file was missing.
        io::ErrorKind::NotFound => io::Error::new(io::ErrorKind::NotFound, "no such process"),
        _ => e,
    })?;
    let (utime, stime) = parse_stat_cpu_ticks(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/PID/stat"))?;
    let tick_ns = 1_000_000_000 / clock_ticks();
    let (user_ns, system_ns) = (utime.saturating_mul(tick_ns), stime.saturating_mul(tick_ns));
    let cpu_ns = user_ns.saturating_add(system_ns);
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kib = status_kib(&status, "VmRSS:").unwrap_or(0);
    let rss_peak_kib = status_kib(&status, "VmHWM:").unwrap_or(0);
    let mut threads_ns = BTreeMap::new();
    if let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) {
        for entry in dir.flatten() {
            let Some(tid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Ok(s) = fs::read_to_string(entry.path().join("schedstat"))
                && let Some(ns) = s.split_whitespace().next().and_then(|v| v.parse().ok())
            {
                threads_ns.insert(tid, ns);
            }
        }
    }
    Ok(ProcSample {
        cpu_ns,
        user_ns,
        system_ns,
        threads_ns,
        rss_kib,
        rss_peak_kib,
    })
}

/// CPU nanoseconds used between two samples.
///
/// Uses the nanosecond per-thread counters when no thread present at `before` has exited
/// (their time would be lost), else the tick-resolution process total.
pub fn cpu_delta_ns(before: &ProcSample, after: &ProcSample) -> (u64, bool) {
    let all_alive = !after.threads_ns.is_empty()
        && before
            .threads_ns
            .keys()
            .all(|t| after.threads_ns.contains_key(t));
    if all_alive {
        let ns = after
            .threads_ns
            .iter()
            .map(|(t, ns)| ns.saturating_sub(before.threads_ns.get(t).copied().unwrap_or(0)))
            .sum();
        (ns, true)
    } else {
        (after.cpu_ns.saturating_sub(before.cpu_ns), false)
    }
}

/// utime and stime (fields 14 and 15) in clock ticks.
fn parse_stat_cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    // The command name (field 2) may contain spaces and parentheses: skip past the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // `rest` starts at field 3 (state); utime is field 14.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// A `Key:   123 kB` value of `/proc/PID/status`.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_listening_socket_of_a_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0
   1: 0100007F:1F40 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 20 4 30 10 -1
   2: 0100007F:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0 100 0 0 10 0
";
        // Port 8000 (1F40): the listening socket only, not the connection on the same port.
        assert_eq!(listening_inodes(table, 8000).collect::<Vec<_>>(), [4242]);
        assert_eq!(listening_inodes(table, 9).count(), 0);
    }

    #[test]
    fn a_process_listening_on_a_port_is_told_from_one_that_is_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(listens_on(std::process::id(), port), Some(true));
        // A process of our own that does not hold it.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let theirs = listens_on(other.id(), port);
        let _ = other.kill();
        let _ = other.wait();
        assert_eq!(theirs, Some(false));
        drop(listener);
        assert_eq!(
            listens_on(std::process::id(), port),
            None,
            "nothing listens now"
        );
    }

    #[test]
    fn parses_stat_with_odd_command_names() {
        let stat = "1234 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 100";
        assert_eq!(parse_stat_cpu_ticks(stat), Some((250, 50)));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn parses_status_values() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(1024));
        assert_eq!(status_kib(status, "VmHWM:"), Some(2048));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn a_process_that_is_gone_is_no_such_process() {
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let pid = gone.id();
        let _ = gone.wait();
        let err = sample_process(pid).map(|_| ()).unwrap_err();
        assert_eq!(err.to_string(), "no such process");
    }

    #[test]
    fn samples_this_process() {
        let me = sample_process(std::process::id()).unwrap();
        assert!(me.rss_kib > 0);
        assert!(me.rss_peak_kib >= me.rss_kib);
        assert!(!me.threads_ns.is_empty());
        // Burn CPU until the counters move forward (tick-based counters move in 10 ms steps,
        // and other test threads may come and go), for at most a few seconds.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut x = 0u64;
        let ns = loop {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            let later = sample_process(std::process::id()).unwrap();
            let (ns, _precise) = cpu_delta_ns(&me, &later);
            if ns > 0 || std::time::Instant::now() > deadline {
                break ns;
            }
        };
        assert!(ns > 0, "no CPU time counted after 5 s of work");
        assert!(own_cpu() > Duration::ZERO);
    }

    #[test]
    fn falls_back_to_ticks_when_a_thread_exited() {
        let before = ProcSample {
            cpu_ns: 10,
            threads_ns: BTreeMap::from([(1, 5), (2, 5)]),
            ..Default::default()
        };
        let after = ProcSample {
            cpu_ns: 40,
            threads_ns: BTreeMap::from([(1, 100)]),
            ..Default::default()
        };
        assert_eq!(cpu_delta_ns(&before, &after), (30, false));
        let after = ProcSample {
            cpu_ns: 40,
            threads_ns: BTreeMap::from([(1, 100), (2, 7), (3, 50)]),
            ..Default::default()
        };
        assert_eq!(cpu_delta_ns(&before, &after), (95 + 2 + 50, true));
    }

    #[test]
    fn raising_the_limit_never_lowers_it() {
        let now = raise_nofile(0).unwrap();
        assert!(raise_nofile(now).unwrap() >= now);
    }
}
