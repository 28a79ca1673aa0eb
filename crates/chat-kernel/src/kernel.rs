//! The [`Kernel`]: the one object every front-end talks to.
//!
//! A front-end calls [`Kernel::connect`] for each accepted socket, feeds the client's input to
//! [`Kernel::handle`] (TCP lines) or [`Kernel::handle_frame`] (WebSocket text frames), drains
//! the connection's [`Outbox`] into the socket, and calls [`Kernel::disconnect`] when the socket
//! ends. The kernel is synchronous: every call takes its one lock, changes the registry, pushes
//! rendered replies into queues and returns; slow work goes to the store thread after the lock
//! is released, and its result comes back through [`Inner`]'s completion methods.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::Format;
use crate::console::{Console, ConsoleEvent};
use crate::dispatch::{Deferred, Flow, State};
use crate::flood::Bucket;
use crate::framing::{Input, split_frame};
use crate::limits::Limits;
use crate::outbox::{Outbox, outbox};
use crate::packer::wire;
use crate::registry::{Conn, ConnId};
use crate::reply::{ErrorKind, Reply};
use crate::shutdown::Shutdown;
use crate::store::{STAND_IN_HASH, Store, StoreError, StoreWorker};

/// How the kernel is set up; one per process, shared by every server.
#[derive(Debug, Clone, Default)]
pub struct KernelConfig {
    /// The limits of PROTOCOL.md section 6.
    pub limits: Limits,
    /// `--no-color`: TCP connections start in the `text` form instead of `color`.
    pub no_color: bool,
}

/// The transport of a connection, which decides its default output form and how the kernel
/// frames its output (lines, or WebSocket text frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Lines over TCP (telnet, netcat): `color` by default.
    Tcp,
    /// WebSocket text frames: `text` by default.
    WebSocket,
}

/// A registered connection: its id and the queue its writer drains.
#[derive(Debug)]
pub struct Connection {
    /// The id to pass to [`Kernel::handle`] and [`Kernel::disconnect`].
    pub id: ConnId,
    /// The connection's outbound queue.
    pub outbox: Outbox,
}

/// Why [`Kernel::connect`] turned a connection away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The connection limit is reached; the payload is the `server full` error in the
    /// transport's default form, framed for the transport, to send before closing.
    #[error("server full")]
    ServerFull(Bytes),
    /// The server is shutting down.
    #[error("server shutting down")]
    ShuttingDown,
}

/// The shared part of the kernel.
pub struct Inner {
    state: Mutex<State>,
    limits: Limits,
    tcp_form: Format,
    console: Console,
    store: StoreWorker,
    shutdown: Shutdown,
}

/// The chat kernel: cheap to clone, shared by every server and runtime of the process.
#[derive(Clone)]
pub struct Kernel {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel").finish_non_exhaustive()
    }
}

impl Kernel {
    /// Starts a kernel on `store` (loading its accounts and history) printing to `console`.
    pub fn new(
        config: KernelConfig,
        store: Box<dyn Store>,
        console: Console,
    ) -> Result<Kernel, StoreError> {
        let errors = console.clone();
        let (worker, loaded) = StoreWorker::start(
            store,
            Box::new(move |e| errors.print("store", ConsoleEvent::Error(e.to_string()))),
        )?;
        let limits = config.limits;
        let inner = Arc::new(Inner {
            state: Mutex::new(State::new(loaded, limits.clone(), console.clone())),
            tcp_form: if config.no_color {
                Format::Text
            } else {
                Format::Color
            },
            limits,
            console,
            store: worker,
            shutdown: Shutdown::default(),
        });
        Ok(Kernel { inner })
    }

    /// The limits every front-end applies.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The server console.
    pub fn console(&self) -> &Console {
        &self.inner.console
    }

    /// Prints `server started on <addr>` for a server that is listening.
    pub fn server_started(&self, server: &str, addr: SocketAddr) {
        self.inner.console.print(
            server,
            ConsoleEvent::Info(format!("server started on {addr}")),
        );
    }

    /// Registers a new connection that came in through `server`; queues the greeting.
    pub fn connect(
        &self,
        server: &Arc<str>,
        peer: SocketAddr,
        transport: Transport,
    ) -> Result<Connection, Refused> {
        let form = match transport {
            Transport::Tcp => self.inner.tcp_form,
            Transport::WebSocket => Format::Text,
        };
        let limits = &self.inner.limits;
        self.inner.with(|st| {
            if st.shutting_down {
                return Err(Refused::ShuttingDown);
            }
            if st.reg.conns.len() >= limits.max_connections {
                let payload = wire(&Reply::Error(ErrorKind::ServerFull), form, transport);
                return Err(Refused::ServerFull(payload));
            }
            let (tx, rx) = outbox(limits.send_queue);
            let id = st.next_id;
            st.next_id += 1;
            st.reg.conns.insert(Conn {
                id,
                server: server.clone(),
                peer,
                form,
                transport,
                out: tx,
                user: None,
                rooms: Vec::new(),
                flood: limits
                    .flood
                    .map(|f| Bucket::new(f, std::time::Instant::now())),
                busy: false,
                backlog: Default::default(),
            });
            st.send(
                id,
                Reply::Server(format!("Welcome to {server}! Type help for commands.")),
            );
            self.inner.console.print(
                server,
                ConsoleEvent::Info(format!("New connection: {peer}.")),
            );
            Ok(Connection { id, outbox: rx })
        })
    }

    /// Handles one unit of input from a TCP connection (see [`crate::LineDecoder`]).
    pub fn handle(&self, id: ConnId, input: Input<'_>) -> Flow {
        self.inner.with(|st| {
            st.input(id, input);
            // A client dropped for its own queue overflow must learn it now.
            st.settle();
            st.flow(id)
        })
    }

    /// Handles one WebSocket text frame: one or more `\n`-separated lines.
    pub fn handle_frame(&self, id: ConnId, text: &str) -> Flow {
        let max_line = self.inner.limits.max_line;
        self.inner.with(|st| {
            let mut flow = Flow::Continue;
            split_frame(text, max_line, |input| {
                if flow == Flow::Continue {
                    flow = st.input(id, input);
                }
            });
            st.settle();
            st.flow(id)
        })
    }

    /// The connection ended (EOF, error, timeout): logged-in users see its logout, and its
    /// outbox is closed after what it holds (a half-closed client still gets its replies; the
    /// front-end keeps its writer running up to [`crate::shutdown::FLUSH_DEADLINE`]).
    /// Safe to call for a connection the kernel already closed.
    pub fn disconnect(&self, id: ConnId, reason: &str) {
        self.inner.with(|st| st.disconnect(id, reason));
    }

    /// Tells the console that a connection the kernel had closed (logout, shutdown) was dropped
    /// before its last lines were written: the client stopped reading for [`FLUSH_DEADLINE`].
    ///
    /// `peer` is asked of the socket then (a connection's task does not keep it for this one
    /// line); `None` when the socket no longer knows it.
    ///
    /// [`FLUSH_DEADLINE`]: crate::shutdown::FLUSH_DEADLINE
    pub fn flush_timed_out(&self, server: &str, peer: Option<SocketAddr>) {
        let text = flush_timed_out_line(peer);
        self.inner.console.print(server, ConsoleEvent::Info(text));
    }

    /// Open connections, all servers together.
    pub fn connections(&self) -> usize {
        self.inner.state.lock().reg.conns.len()
    }

    /// Starts the shutdown: stops new connections, tells everyone
    /// `[SERVER INFO] - server shutting down` and closes every queue after what it holds.
    ///
    /// The flag is raised first: a front-end whose queue was closed must already see it, or it
    /// would take the close for a logout (a WebSocket writer picks close code 1001 or 1000 by
    /// it).
    pub fn shutdown(&self) {
        self.inner.shutdown.trigger();
        self.inner.with(|st| {
            st.shutting_down = true;
            let ids: Vec<ConnId> = st.reg.conns.keys().copied().collect();
            for id in &ids {
                st.send(*id, Reply::Server("server shutting down".into()));
            }
            for conn in st.reg.conns.values() {
                conn.out.close();
            }
        });
    }

    /// The shutdown flag accept loops wait on.
    pub fn shutdown_signal(&self) -> &Shutdown {
        &self.inner.shutdown
    }

    /// Waits until the store thread has done everything sent so far.
    pub fn sync_store(&self) {
        self.inner.store.sync();
    }

    /// Ends the process's use of the kernel: writes what the store has queued, stops its
    /// thread and flushes the console.
    pub fn finish(&self) {
        self.inner.store.stop();
        self.inner.console.flush();
    }
}

impl Inner {
    /// Runs `f` under the lock, drops overflowing clients, then sends deferred store work.
    fn with<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let (result, deferred) = {
            let mut st = self.state.lock();
            let result = f(&mut st);
            st.settle();
            (result, std::mem::take(&mut st.deferred))
        };
        for job in deferred {
            self.submit(job);
        }
        result
    }

    fn submit(self: &Arc<Self>, job: Deferred) {
        match job {
            Deferred::Append(record) => self.store.append(record),
            Deferred::Verify {
                id,
                ip,
                name,
                hash,
                password,
            } => {
                let me = Arc::downgrade(self);
                let known = hash.is_some();
                self.store.verify(
                    hash.unwrap_or_else(|| STAND_IN_HASH.to_owned()),
                    password,
                    Box::new(move |ok| {
                        if let Some(inner) = me.upgrade() {
                            inner.with(|st| st.login_checked(id, ip, &name, ok && known));
                        }
                    }),
                );
            }
            Deferred::Register { id, name, password } => {
                let me = Arc::downgrade(self);
                self.store.register(
                    name.clone(),
                    password,
                    Box::new(move |result| {
                        if let Some(inner) = me.upgrade() {
                            inner.with(|st| st.registered(id, &name, result));
                        }
                    }),
                );
            }
        }
    }
}

/// The console's line for a flush that timed out (see [`Kernel::flush_timed_out`]).
fn flush_timed_out_line(peer: Option<SocketAddr>) -> String {
    match peer {
        Some(peer) => format!("Connection closed: {peer} (flush timed out)."),
        None => "Connection closed (flush timed out).".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_out_flush_names_the_peer_when_the_socket_still_knows_it() {
        let peer: SocketAddr = "127.0.0.1:4242".parse().expect("address");
        assert_eq!(
            flush_timed_out_line(Some(peer)),
            "Connection closed: 127.0.0.1:4242 (flush timed out)."
        );
        assert_eq!(
            flush_timed_out_line(None),
            "Connection closed (flush timed out)."
        );
    }
}
