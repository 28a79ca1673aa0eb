//! The connection task: TCP lines or WebSocket frames, reconnecting with backoff.
//!
//! The task connects, sends `format json` first, and then passes every received line to the
//! app as a [`NetEvent::Line`] and every [`Outgoing::Line`] to the server. When the connection
//! ends or cannot be made, it reports [`NetEvent::Disconnected`] and tries again after a backoff
//! that doubles up to a maximum. Logging back in is the app's business (see `session`).
//!
//! A server of the other transport will not become the right one by waiting, so that ends the
//! task instead, with a [`NetEvent::WrongTransport`] that names the address to use: a TCP
//! endpoint whose server answers in HTTP is a WebSocket server, and a `ws://` endpoint whose
//! server answers the handshake with something that is not HTTP is most likely a TCP one.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::args::Endpoint;

/// The first command on every connection.
pub const FORMAT_JSON: &str = "format json";

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait before the first reconnection attempt; it doubles with every failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The longest line accepted from a TCP server; a longer one is cut there.
const MAX_LINE: usize = 1 << 20;

/// What the connection task tells the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// A connection is up (and `format json` was sent on it).
    Connected,
    /// A line (TCP) or frame line (WebSocket) from the server, without its line end.
    Line(String),
    /// The connection ended or could not be made; the next attempt follows a backoff.
    Disconnected {
        /// How many attempts failed in a row (1 after a connection was lost).
        attempt: u32,
        /// Why.
        reason: String,
    },
    /// The server speaks the other transport (this says which address to use instead); the
    /// task has ended.
    WrongTransport(String),
}

/// What the app asks the connection task to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// Send this command (dropped when no connection is up).
    Line(String),
    /// Close the connection and end the task.
    Close,
}

/// The app's ends of a running connection task.
#[derive(Debug)]
pub struct NetHandle {
    /// Commands to the task.
    pub tx: UnboundedSender<Outgoing>,
    /// Events from the task.
    pub rx: UnboundedReceiver<NetEvent>,
    /// The task; it ends after [`Outgoing::Close`] or when `tx` is dropped.
    pub task: JoinHandle<()>,
}

/// Starts the connection task on the current tokio runtime.
pub fn spawn(endpoint: Endpoint, max_backoff: Duration) -> NetHandle {
    let (tx, out_rx) = unbounded_channel();
    let (event_tx, rx) = unbounded_channel();
    let task = tokio::spawn(run(endpoint, max_backoff, out_rx, event_tx));
    NetHandle { tx, rx, task }
}

/// The wait before attempt number `attempt + 1`, after `attempt` failures in a row.
pub fn backoff(attempt: u32, max: Duration) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(factor).min(max)
}

/// How a connection ended.
enum End {
    /// The app asked to close (or went away): the task ends.
    Closed,
    /// The server or the network ended it.
    Lost(String),
    /// The server speaks the other transport: the task ends.
    WrongTransport(String),
}

async fn run(
    endpoint: Endpoint,
    max_backoff: Duration,
    mut out_rx: UnboundedReceiver<Outgoing>,
    events: UnboundedSender<NetEvent>,
) {
    let mut attempt: u32 = 0;
    loop {
        // Commands typed while no connection was up are not sent to a later one.
        while let Ok(message) = out_rx.try_recv() {
            if message == Outgoing::Close {
                return;
            }
        }
        if out_rx.is_closed() {
            return;
        }
        let reason = match connect(&endpoint).await {
            Err(End::WrongTransport(hint)) => {
                let _ = events.send(NetEvent::WrongTransport(hint));
                return;
            }
            Err(End::Closed) => return,
            Err(End::Lost(reason)) => reason,
            Ok(mut conn) => {
                attempt = 0;
                let end = match conn.send(FORMAT_JSON).await {
                    Ok(()) => {
                        if events.send(NetEvent::Connected).is_err() {
                            return;
                        }
                        conn.serve(&mut out_rx, &events).await
                    }
                    Err(reason) => End::Lost(reason),
                };
                match end {
                    End::Closed => return,
                    End::Lost(reason) => reason,
                    End::WrongTransport(hint) => {
                        let _ = events.send(NetEvent::WrongTransport(hint));
                        return;
                    }
                }
            }
        };
        attempt = attempt.saturating_add(1);
        if events
            .send(NetEvent::Disconnected { attempt, reason })
            .is_err()
        {
            return;
        }
        let deadline = Instant::now() + backoff(attempt, max_backoff);
        loop {
            tokio::select! {
                () = sleep_until(deadline) => break,
                message = out_rx.recv() => match message {
                    None | Some(Outgoing::Close) => return,
                    Some(Outgoing::Line(_)) => {}
                },
            }
        }
    }
}

/// One open connection.
enum Conn {
    Tcp {
        /// `host:port`, for the hint when the server turns out to be a WebSocket one.
        addr: String,
        reader: BufReader<OwnedReadHalf>,
        writer: OwnedWriteHalf,
        /// Nothing was received yet: the first line tells a chat server from a web server.
        first_line: bool,
    },
    Ws(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
}

async fn connect(endpoint: &Endpoint) -> Result<Conn, End> {
    let attempt = async {
        match endpoint {
            Endpoint::Tcp(addr) => {
                let stream = TcpStream::connect(addr.as_str())
                    .await
                    .map_err(|e| End::Lost(e.to_string()))?;
                // Chat lines are small and interactive.
                let _ = stream.set_nodelay(true);
                let (read, writer) = stream.into_split();
                Ok(Conn::Tcp {
                    addr: addr.clone(),
                    reader: BufReader::new(read),
                    writer,
                    first_line: true,
                })
            }
            Endpoint::WebSocket(url) => {
                match tokio_tungstenite::connect_async(url.as_str()).await {
                    Ok((ws, _response)) => Ok(Conn::Ws(Box::new(ws))),
                    // The answer to the handshake request was not HTTP at all.
                    Err(
                        tungstenite::Error::HttpFormat(_)
                        | tungstenite::Error::Protocol(
                            tungstenite::error::ProtocolError::HttparseError(_),
                        ),
                    ) => Err(End::WrongTransport(not_websocket_hint(url))),
                    Err(e) => Err(End::Lost(e.to_string())),
                }
            }
        }
    };
    timeout(CONNECT_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| Err(End::Lost("connection attempt timed out".to_owned())))
}

/// What to tell a user whose `ws://` URL reached a server that does not speak HTTP.
fn not_websocket_hint(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let hostport = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    format!(
        "{url} did not answer the WebSocket handshake in HTTP: it is not a WebSocket server \
         (a TCP chat server? then connect to {hostport})"
    )
}

/// What to tell a user whose TCP address reached a web server.
fn web_server_hint(addr: &str) -> String {
    format!(
        "{addr} answered in HTTP: it is a web server, not a TCP chat server \
         (a WebSocket chat server? then connect to ws://{addr})"
    )
}

impl Conn {
    /// Sends one command.
    async fn send(&mut self, line: &str) -> Result<(), String> {
        let line: String = line.chars().filter(|&c| c != '\n' && c != '\r').collect();
        match self {
            Conn::Tcp { writer, .. } => {
                let mut bytes = line.into_bytes();
                bytes.push(b'\n');
                writer.write_all(&bytes).await.map_err(|e| e.to_string())
            }
            Conn::Ws(ws) => ws
                .send(Message::text(line))
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Closes the connection politely.
    async fn close(&mut self) {
        match self {
            Conn::Tcp { writer, .. } => {
                let _ = writer.shutdown().await;
            }
            Conn::Ws(ws) => {
                let _ = ws.close(None).await;
            }
        }
    }

    /// Moves lines both ways until the connection ends or the app closes it.
    async fn serve(
        &mut self,
        out_rx: &mut UnboundedReceiver<Outgoing>,
        events: &UnboundedSender<NetEvent>,
    ) -> End {
        let mut buf = Vec::new();
        loop {
            let received = tokio::select! {
                message = out_rx.recv() => match message {
                    Some(Outgoing::Line(line)) => {
                        if let Err(reason) = self.send(&line).await {
                            return End::Lost(reason);
                        }
                        continue;
                    }
                    None | Some(Outgoing::Close) => {
                        self.close().await;
                        return End::Closed;
                    }
                },
                received = self.receive(&mut buf) => received,
            };
            match received {
                Ok(lines) => {
                    for line in lines {
                        if events.send(NetEvent::Line(line)).is_err() {
                            self.close().await;
                            return End::Closed;
                        }
                    }
                }
                Err(end) => return end,
            }
        }
    }

    /// Waits for the next line(s). Cancel safe: a partly read TCP line stays in `buf`.
    async fn receive(&mut self, buf: &mut Vec<u8>) -> Result<Vec<String>, End> {
        match self {
            Conn::Tcp {
                addr,
                reader,
                first_line,
                ..
            } => {
                loop {
                    let before = buf.len();
                    let limit = (MAX_LINE - before.min(MAX_LINE)).max(1) as u64;
                    let read = (&mut *reader)
                        .take(limit)
                        .read_until(b'\n', buf)
                        .await
                        .map_err(|e| End::Lost(e.to_string()))?;
                    if read == 0 && buf.len() == before {
                        return Err(lost("the server closed the connection"));
                    }
                    if buf.ends_with(b"\n") || buf.len() >= MAX_LINE {
                        break;
                    }
                }
                let line = String::from_utf8_lossy(buf)
                    .trim_end_matches(['\r', '\n'])
                    .to_owned();
                buf.clear();
                // A chat server greets with `[SERVER INFO]`; a web server answers the
                // `format json` line with an HTTP status line.
                if std::mem::take(first_line) && line.starts_with("HTTP/") {
                    return Err(End::WrongTransport(web_server_hint(addr)));
                }
                Ok(vec![line])
            }
            Conn::Ws(ws) => loop {
                match ws.next().await {
                    None => return Err(lost("the server closed the connection")),
                    Some(Err(e)) => return Err(End::Lost(e.to_string())),
                    Some(Ok(Message::Text(text))) => {
                        return Ok(text.as_str().split('\n').map(str::to_owned).collect());
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return Err(End::Lost(match frame {
                            Some(frame) if !frame.reason.is_empty() => {
                                format!("the server closed the connection: {}", frame.reason)
                            }
                            _ => "the server closed the connection".to_owned(),
                        }));
                    }
                    // Pings are answered by tungstenite; binary frames are not part of the protocol.
                    Some(Ok(_)) => {}
                }
            },
        }
    }
}

/// A lost connection, for this reason.
fn lost(reason: &str) -> End {
    End::Lost(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    const WAIT: Duration = Duration::from_secs(10);

    async fn next_event(rx: &mut UnboundedReceiver<NetEvent>) -> NetEvent {
        timeout(WAIT, rx.recv())
            .await
            .expect("no event within the deadline")
            .expect("the task ended")
    }

    async fn read_line(reader: &mut BufReader<TcpStream>) -> String {
        let mut line = String::new();
        timeout(WAIT, reader.read_line(&mut line))
            .await
            .expect("no line within the deadline")
            .unwrap();
        line
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let max = Duration::from_secs(10);
        assert_eq!(backoff(1, max), Duration::from_millis(250));
        assert_eq!(backoff(2, max), Duration::from_millis(500));
        assert_eq!(backoff(4, max), Duration::from_secs(2));
        assert_eq!(backoff(10, max), max);
        assert_eq!(backoff(u32::MAX, max), max);
    }

    #[tokio::test]
    async fn tcp_lines_both_ways_and_reconnect() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mut net = spawn(Endpoint::Tcp(addr), Duration::from_secs(1));

        let (socket, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        let mut server = BufReader::new(socket);
        assert_eq!(read_line(&mut server).await, "format json\n");
        assert_eq!(next_event(&mut net.rx).await, NetEvent::Connected);
        server
            .get_mut()
            .write_all(b"plain greeting\r\n{\"type\":\"info\",\"text\":\"x\"}\npart")
            .await
            .unwrap();
        assert_eq!(
            next_event(&mut net.rx).await,
            NetEvent::Line("plain greeting".into())
        );
        assert_eq!(
            next_event(&mut net.rx).await,
            NetEvent::Line(r#"{"type":"info","text":"x"}"#.into())
        );
        net.tx.send(Outgoing::Line("login alice".into())).unwrap();
        assert_eq!(read_line(&mut server).await, "login alice\n");
        server.get_mut().write_all(b"ial\n").await.unwrap();
        assert_eq!(
            next_event(&mut net.rx).await,
            NetEvent::Line("partial".into())
        );
        // Only a first line in HTTP tells of a web server.
        server
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\n")
            .await
            .unwrap();
        assert_eq!(
            next_event(&mut net.rx).await,
            NetEvent::Line("HTTP/1.1 200 OK".into())
        );

        // The server goes away: the task reports it and connects again.
        drop(server);
        assert!(matches!(
            next_event(&mut net.rx).await,
            NetEvent::Disconnected { attempt: 1, .. }
        ));
        let (socket, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        let mut server = BufReader::new(socket);
        assert_eq!(read_line(&mut server).await, "format json\n");
        assert_eq!(next_event(&mut net.rx).await, NetEvent::Connected);

        // Close ends the task and the connection.
        net.tx.send(Outgoing::Close).unwrap();
        timeout(WAIT, &mut net.task).await.unwrap().unwrap();
        let mut rest = Vec::new();
        let n = timeout(WAIT, server.read_to_end(&mut rest))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn a_web_server_at_a_tcp_address_ends_the_task_naming_the_ws_url() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mut net = spawn(Endpoint::Tcp(addr.clone()), Duration::from_millis(50));
        let (socket, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        let mut server = BufReader::new(socket);
        // What our WebSocket servers answer to `format json`.
        assert_eq!(read_line(&mut server).await, "format json\n");
        server
            .get_mut()
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(next_event(&mut net.rx).await, NetEvent::Connected);
        let NetEvent::WrongTransport(hint) = next_event(&mut net.rx).await else {
            panic!("expected WrongTransport");
        };
        assert!(hint.contains(&format!("connect to ws://{addr}")), "{hint}");
        // No retry: the task has ended.
        timeout(WAIT, net.task).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_tcp_server_at_a_ws_url_ends_the_task_naming_its_address() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let url = format!("ws://{addr}/chat?x=1");
        let mut net = spawn(Endpoint::WebSocket(url.clone()), Duration::from_millis(50));
        let (mut socket, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        // What our TCP servers send first.
        socket
            .write_all(b"[SERVER INFO] - Welcome to tokio_chat! Type help for commands.\r\n")
            .await
            .unwrap();
        let NetEvent::WrongTransport(hint) = next_event(&mut net.rx).await else {
            panic!("expected WrongTransport");
        };
        assert!(hint.starts_with(&url), "{hint}");
        assert!(hint.ends_with(&format!("connect to {addr})")), "{hint}");
        // No retry: the task has ended.
        timeout(WAIT, net.task).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn refused_connection_is_retried() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let mut net = spawn(Endpoint::Tcp(addr.to_string()), Duration::from_millis(300));
        assert!(matches!(
            next_event(&mut net.rx).await,
            NetEvent::Disconnected { attempt: 1, .. }
        ));
        assert!(matches!(
            next_event(&mut net.rx).await,
            NetEvent::Disconnected { attempt: 2, .. }
        ));
        // The port is free again: the next attempts reach a server.
        let listener = TcpListener::bind(addr).await.unwrap();
        let (socket, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        let mut server = BufReader::new(socket);
        assert_eq!(read_line(&mut server).await, "format json\n");
        loop {
            match next_event(&mut net.rx).await {
                NetEvent::Connected => break,
                NetEvent::Disconnected { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        drop(net.tx);
        timeout(WAIT, net.task).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn websocket_frames_both_ways() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/ws", listener.local_addr().unwrap());
        let mut net = spawn(Endpoint::WebSocket(url), Duration::from_secs(1));
        let (socket, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        let mut ws = tokio_tungstenite::accept_async(socket).await.unwrap();
        let first = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(first, Message::text("format json"));
        assert_eq!(next_event(&mut net.rx).await, NetEvent::Connected);
        ws.send(Message::text("one\ntwo")).await.unwrap();
        assert_eq!(next_event(&mut net.rx).await, NetEvent::Line("one".into()));
        assert_eq!(next_event(&mut net.rx).await, NetEvent::Line("two".into()));
        net.tx.send(Outgoing::Line("msgall hi".into())).unwrap();
        let got = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(got, Message::text("msgall hi"));
        net.tx.send(Outgoing::Close).unwrap();
        let got = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
        assert!(matches!(got, Message::Close(_)));
        timeout(WAIT, net.task).await.unwrap().unwrap();
    }
}
