//! `bench floor`: the least a chat server can do, to measure what this machine charges for the
//! deliveries themselves.
//!
//! The CPU targets (server CPU time per delivery) include what the Linux kernel spends
//! on each write: on loopback the sender also pays for the receiving socket's network
//! processing and for waking its reader. This server does as little as a chat server can in
//! user space, so what it costs is close to the price of the writes alone, the floor under any
//! server measured the same way:
//!
//! - one thread, one `epoll` (mio), no async runtime, no locks, no reference counts;
//! - it speaks only what the load generator needs, in the text form: the greeting, `format`,
//!   `login`, `msgall`, `whoami`, and the logout line when a client leaves;
//! - each round of the event loop first reads everything readable and appends each broadcast to
//!   every recipient's one output buffer, then writes each buffer that has something with one
//!   `send`: every delivery that arrived in the round shares the recipient's write, as many as
//!   any server could batch without delaying output.
//!
//! It is not a chat server: no limits beyond a per-client output bound (a client past
//! [`OUT_LIMIT`] bytes unsent is dropped), no rooms, no history. It binds loopback only.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);

/// A client with more than this many bytes unsent is dropped.
pub const OUT_LIMIT: usize = 4 << 20;

/// What the line announcing the address starts with (`floor_chat listening on 127.0.0.1:PORT`):
/// `bench suite` reads the port from it.
pub const LISTENING: &str = "floor_chat listening on ";

/// The greeting, in the protocol's form.
const GREETING: &[u8] = b"[SERVER INFO] - Welcome to floor_chat! Type help for commands.\r\n";

/// Options of `bench floor`.
#[derive(clap::Args, Debug, Clone)]
pub struct FloorArgs {
    /// Port to listen on, on 127.0.0.1 (0: a free one; the address is printed).
    #[arg(long, default_value_t = 8600)]
    pub port: u16,
}

/// Stops a running [`Floor`] from another thread.
#[derive(Debug, Clone)]
pub struct Stop {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Stop {
    /// Asks the server to return from [`Floor::run`].
    pub fn stop(&self) -> io::Result<()> {
        self.flag.store(true, Ordering::SeqCst);
        self.waker.wake()
    }
}

/// One client.
struct Client {
    stream: TcpStream,
    /// Bytes read and not yet a whole line.
    input: Vec<u8>,
    /// Output not yet written.
    output: Vec<u8>,
    name: Option<Box<str>>,
    /// Listed in `Floor::dirty` (output to write this round).
    dirty: bool,
    /// Registered for writability (its socket was full).
    blocked: bool,
    /// To be removed at the end of the round.
    dead: bool,
}

/// The floor server: a listener, its clients, one poll.
pub struct Floor {
    poll: Poll,
    listener: TcpListener,
    clients: Vec<Option<Client>>,
    free: Vec<usize>,
    dirty: Vec<usize>,
    dead: Vec<usize>,
    stop: Stop,
    addr: SocketAddr,
}

impl Floor {
    /// Binds `127.0.0.1:port`.
    pub fn bind(port: u16) -> io::Result<Floor> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let addr = listener.local_addr()?;
        Ok(Floor {
            poll,
            listener,
            clients: Vec::new(),
            free: Vec::new(),
            dirty: Vec::new(),
            dead: Vec::new(),
            stop: Stop {
                flag: Arc::new(AtomicBool::new(false)),
                waker,
            },
            addr,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops [`Floor::run`].
    pub fn stopper(&self) -> Stop {
        self.stop.clone()
    }

    /// Serves until stopped. Errors are the poll's own; a client's errors only drop it.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match self.poll.poll(&mut events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if self.stop.flag.load(Ordering::SeqCst) {
                return Ok(());
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept()?,
                    WAKER => {}
                    Token(i) => {
                        if event.is_writable() {
                            self.mark_dirty(i);
                        }
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read(i, &mut chunk);
                        }
                    }
                }
            }
            self.remove_dead();
            self.flush();
            // A failed write kills a client: a second pass tells the others at once (a
            // failure in that pass is told in the next round).
            self.remove_dead();
            self.flush();
        }
    }

    fn accept(&mut self) -> io::Result<()> {
        loop {
            let (mut stream, _) = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                // Out of descriptors or a connection reset before it was accepted: the
                // listener itself is fine.
                Err(_) => return Ok(()),
            };
            let _ = stream.set_nodelay(true);
            let slot = self.free.pop().unwrap_or(self.clients.len());
            if self
                .poll
                .registry()
                .register(&mut stream, Token(slot), Interest::READABLE)
                .is_err()
            {
                continue;
            }
            let client = Client {
                stream,
                input: Vec::new(),
                output: GREETING.to_vec(),
                name: None,
                dirty: false,
                blocked: false,
                dead: false,
            };
            if slot == self.clients.len() {
                self.clients.push(Some(client));
            } else {
                self.clients[slot] = Some(client);
            }
            self.mark_dirty(slot);
        }
    }

    /// Reads everything the socket has and runs each whole line.
    fn read(&mut self, i: usize, chunk: &mut [u8]) {
        loop {
            let Some(client) = self.clients.get_mut(i).and_then(Option::as_mut) else {
                return;
            };
            if client.dead {
                return;
            }
            match client.stream.read(chunk) {
                Ok(0) => return self.kill(i),
                Ok(n) => {
                    client.input.extend_from_slice(&chunk[..n]);
                    self.run_lines(i);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.kill(i),
            }
        }
    }

    fn run_lines(&mut self, i: usize) {
        let Some(client) = self.clients.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let input = std::mem::take(&mut client.input);
        let mut start = 0;
        while let Some(end) = memchr::memchr(b'\n', &input[start..]) {
            let line = input[start..start + end].trim_ascii();
            start += end + 1;
            if !line.is_empty() {
                self.command(i, line);
            }
        }
        if let Some(client) = self.clients.get_mut(i).and_then(Option::as_mut) {
            let mut input = input;
            input.drain(..start);
            client.input = input;
            if client.input.len() > 64 * 1024 {
                self.kill(i);
            }
        }
    }

    fn command(&mut self, i: usize, line: &[u8]) {
        let (word, rest) = match memchr::memchr(b' ', line) {
            Some(at) => (&line[..at], &line[at + 1..]),
            None => (line, &b""[..]),
        };
        let name = self.clients[i].as_ref().and_then(|c| c.name.clone());
        match (word, name) {
            (b"format", _) => self.reply(i, &[b"[INFO] - format ", rest]),
            (b"login", Some(_)) => self.reply(i, &[b"[ERROR] - Already login!"]),
            (b"login", None) => {
                let Ok(wanted) = std::str::from_utf8(rest) else {
                    return self.reply(i, &[b"[ERROR] - invalid name"]);
                };
                let taken = self
                    .clients
                    .iter()
                    .flatten()
                    .any(|c| c.name.as_deref() == Some(wanted));
                if taken {
                    return self.reply(i, &[b"[ERROR] - Username already taken!"]);
                }
                if let Some(c) = self.clients[i].as_mut() {
                    c.name = Some(wanted.into());
                }
                self.broadcast(&[b"[SYSTEM INFO] - [", rest, b"] login to chat."]);
            }
            (b"msgall", None) | (b"whoami", None) => self.reply(i, &[b"[ERROR] - First login!"]),
            (b"msgall", Some(name)) => {
                let clock = clock();
                self.broadcast(&[&clock, b"[", name.as_bytes(), b"]: ", rest]);
            }
            (b"whoami", Some(name)) => self.reply(i, &[b"[INFO] - ", name.as_bytes()]),
            _ => self.reply(i, &[b"[ERROR] - unknown command"]),
        }
    }

    fn reply(&mut self, i: usize, parts: &[&[u8]]) {
        if let Some(c) = self.clients[i].as_mut() {
            for p in parts {
                c.output.extend_from_slice(p);
            }
            c.output.extend_from_slice(b"\r\n");
        }
        self.mark_dirty(i);
    }

    /// Appends a line to every logged-in client's output.
    fn broadcast(&mut self, parts: &[&[u8]]) {
        for (i, slot) in self.clients.iter_mut().enumerate() {
            let Some(c) = slot.as_mut() else { continue };
            if c.name.is_none() || c.dead {
                continue;
            }
            for p in parts {
                c.output.extend_from_slice(p);
            }
            c.output.extend_from_slice(b"\r\n");
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(i);
            }
            if c.output.len() > OUT_LIMIT && !c.dead {
                c.dead = true;
                self.dead.push(i);
            }
        }
    }

    fn mark_dirty(&mut self, i: usize) {
        if let Some(c) = self.clients.get_mut(i).and_then(Option::as_mut)
            && !c.dirty
        {
            c.dirty = true;
            self.dirty.push(i);
        }
    }

    fn kill(&mut self, i: usize) {
        if let Some(c) = self.clients.get_mut(i).and_then(Option::as_mut)
            && !c.dead
        {
            c.dead = true;
            self.dead.push(i);
        }
    }

    /// Removes dead clients and tells the others who left.
    fn remove_dead(&mut self) {
        while let Some(i) = self.dead.pop() {
            let Some(mut client) = self.clients.get_mut(i).and_then(Option::take) else {
                continue;
            };
            let _ = self.poll.registry().deregister(&mut client.stream);
            self.free.push(i);
            if let Some(name) = client.name {
                self.broadcast(&[
                    b"[SYSTEM INFO] - [",
                    name.as_bytes(),
                    b"] logout from chat.",
                ]);
            }
        }
    }

    /// Writes each client's output, one `send` each while its socket takes it.
    fn flush(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for &i in &dirty {
            let Some(c) = self.clients.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            c.dirty = false;
            if c.dead {
                continue;
            }
            let mut written = 0;
            let mut failed = false;
            while written < c.output.len() {
                match c.stream.write(&c.output[written..]) {
                    Ok(0) => {
                        failed = true;
                        break;
                    }
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            c.output.drain(..written);
            if c.output.capacity() > 64 * 1024 && c.output.is_empty() {
                c.output = Vec::new();
            }
            let blocked = !c.output.is_empty();
            if blocked != c.blocked && !failed {
                let interest = if blocked {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                c.blocked = blocked;
                failed = self
                    .poll
                    .registry()
                    .reregister(&mut c.stream, Token(i), interest)
                    .is_err();
            }
            if failed {
                c.dead = true;
                self.dead.push(i);
            }
        }
        let mut dirty = dirty;
        dirty.clear();
        if self.dirty.is_empty() {
            self.dirty = dirty;
        }
    }
}

/// `[HH:MM:SS]` in UTC (the load generator checks only its shape).
fn clock() -> [u8; 10] {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let two = |v: u64| [b'0' + (v / 10 % 10) as u8, b'0' + (v % 10) as u8];
    let (h, m, s) = (two(secs / 3600 % 24), two(secs / 60 % 60), two(secs % 60));
    [b'[', h[0], h[1], b':', m[0], m[1], b':', s[0], s[1], b']']
}

/// Runs `bench floor`: binds, prints the address, serves until SIGINT or SIGTERM.
///
/// The signals are handled, not left to their default: a shell script that starts the server
/// in the background (as `scripts/bench-ab.sh` does) leaves it ignoring SIGINT.
pub fn run_floor(args: &FloorArgs) -> io::Result<()> {
    let mut floor = Floor::bind(args.port)?;
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    let stop = floor.stopper();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                let _ = stop.stop();
            }
        })?;
    println!("{LISTENING}{}", floor.local_addr());
    floor.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_has_the_protocols_shape() {
        let c = clock();
        assert_eq!((c[0], c[3], c[6], c[9]), (b'[', b':', b':', b']'));
        assert!([1, 2, 4, 5, 7, 8].iter().all(|&i| c[i].is_ascii_digit()));
    }
}
