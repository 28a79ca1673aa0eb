//! A chat server started as a child process: find its port on stdout, keep draining its
//! output, kill it when done.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

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
}

/// The name [`ServerProcess::spawn_floor`] gives the reference server.
pub const FLOOR: &str = "floor";

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
        Self::start(cmd, name, wait, move |line| {
            parse_started_line(line, &announced)
        })
    }

    /// Starts `bin bench floor --port 0` (the reference server, [`crate::floor`]) and waits up
    /// to `wait` for it to announce its port. Its `name` is [`FLOOR`].
    pub fn spawn_floor(bin: &Path, wait: Duration) -> Result<ServerProcess, BenchError> {
        let mut cmd = Command::new(bin);
        cmd.args(["bench", "floor", "--port", "0"]);
        Self::start(cmd, FLOOR, wait, parse_floor_line)
    }

    /// Runs `cmd` with its output drained (and kept for error messages), killed when this
    /// process dies, and waits up to `wait` for a line of its stdout that `port_of` reads a
    /// port from.
    fn start(
        mut cmd: Command,
        name: &str,
        wait: Duration,
        port_of: impl Fn(&str) -> Option<u16> + Send + 'static,
    ) -> Result<ServerProcess, BenchError> {
        let fail = |reason: String| BenchError::Spawn {
            server: name.to_string(),
            reason,
        };
        let bin = cmd.get_program().to_owned();
        cmd.env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
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
                    if let Some(port) = port_of(line) {
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
        };
        match port_rx.recv_timeout(wait) {
            Ok(port) => {
                server.port = port;
                Ok(server)
            }
            Err(e) => {
                let what = match e {
                    mpsc::RecvTimeoutError::Timeout => {
                        format!("no port announced within {} s", wait.as_secs())
                    }
                    mpsc::RecvTimeoutError::Disconnected => {
                        "output closed without announcing a port".to_string()
                    }
                };
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
        let mut floor =
            ServerProcess::start(cmd, FLOOR, Duration::from_secs(10), parse_floor_line).unwrap();
        assert_eq!((floor.name.as_str(), floor.port), (FLOOR, 4242));
        floor.kill();
        assert!(!floor.is_running());
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
