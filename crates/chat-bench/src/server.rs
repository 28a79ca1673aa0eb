//! A chat server started as a child process: find its port on stdout (or, for InspIRCd, wait
//! until its configured port accepts), keep draining its output, kill it when done.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::line::strip_ansi;

/// How many output lines are kept for error messages.
const KEEP_LINES: usize = 20;

/// A running server child process. Dropping it kills the process.
#[derive(Debug)]
pub struct ServerProcess {
    /// The server subcommand.
    pub name: String,
    /// The port it listens on.
    pub port: u16,
    child: Child,
    log: Arc<Mutex<VecDeque<String>>>,
    drains: Vec<JoinHandle<()>>,
    /// A directory of its own (InspIRCd's configuration, log and pid file), removed with it.
    dir: Option<PathBuf>,
}

/// Reads a port from a line of a server's output, if the line announces one.
type PortOf = Box<dyn Fn(&str) -> Option<u16> + Send>;

/// How a started server tells that it is ready.
enum Ready {
    /// It prints a line on stdout that this reads its port from.
    Announces(PortOf),
    /// It was told its port, and is ready once the port accepts a connection.
    Accepts(u16),
}

/// The name [`ServerProcess::spawn_floor`] gives the reference server.
pub const FLOOR: &str = "floor";

/// The name [`ServerProcess::spawn_inspircd`] gives InspIRCd.
pub const INSPIRCD: &str = "inspircd";

/// The InspIRCd configuration, with `@PORT@` and `@DIR@` to fill in: its limits lifted as
/// `--store memory --no-flood-limit` lifts ours (the file's comment says which and why).
pub const INSPIRCD_CONF: &str = include_str!("../inspircd-bench.conf");

/// The configuration for a server on `port` whose pid file and log go to `dir`.
pub fn inspircd_conf(port: u16, dir: &Path) -> String {
    INSPIRCD_CONF
        .replace("@PORT@", &port.to_string())
        .replace("@DIR@", &dir.display().to_string())
}

/// Reads the port from the reference server's line `floor_chat listening on HOST:PORT`.
pub fn parse_floor_line(line: &str) -> Option<u16> {
    let marker = crate::floor::LISTENING;
    // As for the servers' line, anything before the marker is ignored.
    let rest = &line[line.find(marker)? + marker.len()..];
    rest.trim().rsplit_once(':')?.1.parse().ok()
}

/// Reads the port from a console line `[NAME] - [SERVER INFO] - server started on HOST:PORT`.
pub fn parse_started_line(line: &str, name: &str) -> Option<u16> {
    let line = strip_ansi(line);
    let marker = format!("[{name}] - [SERVER INFO] - server started on ");
    // Anything before the marker (a log prefix) is ignored.
    let rest = &line[line.find(&marker)? + marker.len()..];
    rest.trim().rsplit_once(':')?.1.parse().ok()
}

impl ServerProcess {
    /// Starts `bin <name> --port 0 --store memory --no-flood-limit --no-color <extra>` and
    /// waits up to `wait` for it to announce its port.
    pub fn spawn(
        bin: &Path,
        name: &str,
        extra: &[String],
        wait: Duration,
    ) -> Result<ServerProcess, BenchError> {
        let mut cmd = Command::new(bin);
        cmd.arg(name)
            .args([
                "--port",
                "0",
                "--store",
                "memory",
                "--no-flood-limit",
                "--no-color",
            ])
            .args(extra);
        let announced = name.to_string();
        let ready = Ready::Announces(Box::new(move |line| parse_started_line(line, &announced)));
        Self::start(cmd, name, wait, ready, None)
    }

    /// Starts `bin bench floor --port 0` (the reference server, [`crate::floor`]) and waits up
    /// to `wait` for it to announce its port. Its `name` is [`FLOOR`].
    pub fn spawn_floor(bin: &Path, wait: Duration) -> Result<ServerProcess, BenchError> {
        let mut cmd = Command::new(bin);
        cmd.args(["bench", "floor", "--port", "0"]);
        Self::start(
            cmd,
            FLOOR,
            wait,
            Ready::Announces(Box::new(parse_floor_line)),
            None,
        )
    }

    /// Starts InspIRCd (`bin`, Debian's `/usr/sbin/inspircd` when found on `PATH`) in the
    /// foreground on a free loopback port, with [`INSPIRCD_CONF`] written to a directory of its
    /// own, and waits up to `wait` for the port to accept. Its `name` is [`INSPIRCD`].
    pub fn spawn_inspircd(bin: &Path, wait: Duration) -> Result<ServerProcess, BenchError> {
        let fail = |reason: String| BenchError::Spawn {
            server: INSPIRCD.to_string(),
            reason,
        };
        // InspIRCd binds the port its configuration names, so the port is chosen here: a free
        // one, released just before InspIRCd binds it.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| fail(format!("no free port: {e}")))?
            .port();
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "chat-bench-inspircd-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let conf = dir.join("inspircd.conf");
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&conf, inspircd_conf(port, &dir)))
            .map_err(|e| fail(format!("{}: {e}", conf.display())))?;
        let mut cmd = Command::new(bin);
        cmd.arg("--nofork")
            .arg(format!("--config={}", conf.display()));
        // InspIRCd refuses to run as root unless told to.
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            cmd.arg("--runasroot");
        }
        let started = Self::start(cmd, INSPIRCD, wait, Ready::Accepts(port), Some(dir.clone()));
        if started.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        started
    }

    /// Runs `cmd` with its output drained (and kept for error messages), killed when this
    /// process dies, and waits up to `wait` for it to be `ready`. `dir` is removed when it is
    /// dropped.
    fn start(
        mut cmd: Command,
        name: &str,
        wait: Duration,
        ready: Ready,
        dir: Option<PathBuf>,
    ) -> Result<ServerProcess, BenchError> {
        let fail = |reason: String| BenchError::Spawn {
            server: name.to_string(),
            reason,
        };
        let bin = cmd.get_program().to_owned();
        let (port_of, ready_port) = match ready {
            Ready::Announces(port_of) => (Some(port_of), None),
            Ready::Accepts(port) => (None, Some(port)),
        };
        cmd.env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: the closure only calls prctl, which is async-signal-safe, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // Die with the bench, even if the bench is killed without a chance to clean up.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(format!("{}: {e}", Path::new(&bin).display())))?;
        let log = Arc::new(Mutex::new(VecDeque::with_capacity(KEEP_LINES)));
        let (port_tx, port_rx) = mpsc::channel();
        let mut drains = Vec::new();
        if let Some(out) = child.stdout.take() {
            let log = log.clone();
            drains.push(thread::spawn(move || {
                drain(out, &log, |line| {
                    if let Some(port) = port_of.as_ref().and_then(|port_of| port_of(line)) {
                        let _ = port_tx.send(port);
                    }
                })
            }));
        }
        if let Some(err) = child.stderr.take() {
            let log = log.clone();
            drains.push(thread::spawn(move || drain(err, &log, |_| {})));
        }
        let mut server = ServerProcess {
            name: name.to_string(),
            port: 0,
            child,
            log,
            drains,
            dir,
        };
        let waited = match ready_port {
            Some(port) => server.wait_accepting(port, wait),
            None => match port_rx.recv_timeout(wait) {
                Ok(port) => Ok(port),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    Err(format!("no port announced within {} s", wait.as_secs()))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    Err("output closed without announcing a port".to_string())
                }
            },
        };
        match waited {
            Ok(port) => {
                server.port = port;
                Ok(server)
            }
            Err(what) => {
                server.kill();
                // The process is gone: its output ends, so the drains finish.
                for d in server.drains.drain(..) {
                    let _ = d.join();
                }
                let status = match server.child.try_wait() {
                    Ok(Some(status)) => format!(" ({status})"),
                    _ => String::new(),
                };
                Err(fail(format!(
                    "{what}{status}; last output: {}",
                    server.last_output()
                )))
            }
        }
    }

    /// Waits up to `wait` for 127.0.0.1:`port` to accept a connection while the process runs.
    fn wait_accepting(&mut self, port: u16, wait: Duration) -> Result<u16, String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + wait;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(port);
            }
            if !self.is_running() {
                return Err(format!("exited before port {port} accepted"));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "port {port} did not accept within {} s",
                    wait.as_secs()
                ));
            }
            // Nothing to wait on but the port itself: look again shortly.
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines the process printed, joined with ` | `.
    pub fn last_output(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.is_empty() {
            return "(nothing)".into();
        }
        log.iter().cloned().collect::<Vec<_>>().join(" | ")
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Reads `from` line by line until EOF, keeping the last lines and showing each to `on_line`.
fn drain(from: impl Read, log: &Mutex<VecDeque<String>>, mut on_line: impl FnMut(&str)) {
    let mut reader = BufReader::with_capacity(64 * 1024, from);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end();
                on_line(line);
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                if log.len() == KEEP_LINES {
                    log.pop_front();
                }
                log.push_back(line.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_port() {
        assert_eq!(
            parse_started_line(
                "[tokio_chat] - [SERVER INFO] - server started on 127.0.0.1:40123",
                "tokio_chat"
            ),
            Some(40123)
        );
        assert_eq!(
            parse_started_line(
                "\u{1b}[34m[smol_ws_chat] - [SERVER INFO]\u{1b}[0m - server started on 127.0.0.1:8082\r",
                "smol_ws_chat"
            ),
            Some(8082)
        );
        assert_eq!(
            parse_started_line(
                "test x ... [tokio_chat] - [SERVER INFO] - server started on 127.0.0.1:7",
                "tokio_chat"
            ),
            Some(7)
        );
        assert_eq!(
            parse_started_line(
                "[smol_chat] - [SERVER INFO] - server started on 127.0.0.1:1",
                "tokio_chat"
            ),
            None
        );
        assert_eq!(
            parse_started_line(
                "[tokio_chat] - [SERVER INFO] - New connection: 127.0.0.1:5.",
                "tokio_chat"
            ),
            None
        );
    }

    #[test]
    fn reads_the_floors_port() {
        let line = format!("{}127.0.0.1:40123\n", crate::floor::LISTENING);
        assert_eq!(parse_floor_line(&line), Some(40123));
        assert_eq!(parse_floor_line(&format!("test x ... {line}")), Some(40123));
        assert_eq!(parse_floor_line("floor_chat listening on nowhere"), None);
        assert_eq!(
            parse_floor_line("[floor] - [SERVER INFO] - server started on 127.0.0.1:1"),
            None
        );
    }

    #[test]
    fn starts_the_floor_and_reads_its_port() {
        // `sh -c SCRIPT bench floor --port 0`: the script stands in for the binary and
        // announces a port the way `bench floor` does.
        let script = format!("echo '{}127.0.0.1:4242'; sleep 30", crate::floor::LISTENING);
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", &script]);
        let ready = Ready::Announces(Box::new(parse_floor_line));
        let mut floor =
            ServerProcess::start(cmd, FLOOR, Duration::from_secs(10), ready, None).unwrap();
        assert_eq!((floor.name.as_str(), floor.port), (FLOOR, 4242));
        floor.kill();
        assert!(!floor.is_running());
    }

    #[test]
    fn inspircd_gets_its_port_and_directory() {
        let conf = inspircd_conf(40123, Path::new("/tmp/ircd-x"));
        assert!(
            !conf.contains("@PORT@") && !conf.contains("@DIR@"),
            "every placeholder filled: {conf}"
        );
        assert!(conf.contains(r#"<bind address="127.0.0.1" port="40123" type="clients">"#));
        assert!(conf.contains(r#"<pid file="/tmp/ircd-x/inspircd.pid">"#));
        assert!(conf.contains(r#"target="/tmp/ircd-x/ircd.log""#));
    }

    #[test]
    fn an_inspircd_that_does_not_start_is_an_error_and_leaves_nothing() {
        let before = inspircd_dirs();
        let err = ServerProcess::spawn_inspircd(Path::new("/bin/false"), Duration::from_secs(10));
        match err {
            Err(BenchError::Spawn { server, reason }) => {
                assert_eq!(server, INSPIRCD);
                assert!(reason.contains("exited before port"), "{reason}");
            }
            other => panic!("expected a spawn error, got {other:?}"),
        }
        assert!(matches!(
            ServerProcess::spawn_inspircd(
                Path::new("/nonexistent/inspircd"),
                Duration::from_secs(1)
            ),
            Err(BenchError::Spawn { .. })
        ));
        assert_eq!(inspircd_dirs(), before, "its directory is removed");
    }

    /// This process's InspIRCd directories in the temporary directory.
    fn inspircd_dirs() -> Vec<PathBuf> {
        let prefix = format!("chat-bench-inspircd-{}-", std::process::id());
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .collect();
        dirs.sort();
        dirs
    }

    #[test]
    fn reports_a_server_that_exits_without_a_port() {
        let err = ServerProcess::spawn(Path::new("/bin/sh"), "-c", &[], Duration::from_secs(10));
        // `/bin/sh -c --port ...` fails at once; the error names the exit and the output.
        match err {
            Err(BenchError::Spawn { server, reason }) => {
                assert_eq!(server, "-c");
                assert!(reason.contains("without announcing a port"), "{reason}");
                assert!(reason.contains("last output: "), "{reason}");
            }
            other => panic!("expected a spawn error, got {other:?}"),
        }
    }

    #[test]
    fn reports_a_missing_binary() {
        let err = ServerProcess::spawn(
            Path::new("/nonexistent/async-chat"),
            "tokio_chat",
            &[],
            Duration::from_secs(1),
        );
        assert!(matches!(err, Err(BenchError::Spawn { .. })));
    }
}
