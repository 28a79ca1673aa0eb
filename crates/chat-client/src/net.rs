//! The connection task: TCP lines or WebSocket frames, reconnecting with backoff.
//!
//! The task connects, sends `format json` first, and then passes every received line to the
//! app as a [`NetEvent::Line`] and every [`Outgoing::Line`] to the server. When the connection
//! ends or cannot be made, it reports [`NetEvent::Disconnected`] and tries again after a backoff
//! that doubles up to a maximum. Logging back in is the app's business (see `session`).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
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
                }
            }
            Err(reason) => reason,
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
        reader: BufReader<OwnedReadHalf>,
        writer: OwnedWriteHalf,
    },
    Ws(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
}

async fn connect(endpoint: &Endpoint) -> Result<Conn, String> {
    let attempt = async {
        match endpoint {
            Endpoint::Tcp(addr) => {
                let stream = TcpStream::connect(addr.as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                // Chat lines are small and interactive.
                let _ = stream.set_nodelay(true);
                let (read, writer) = stream.into_split();
                Ok(Conn::Tcp {
                    reader: BufReader::new(read),
                    writer,
                })
            }
            Endpoint::WebSocket(url) => {
                let (ws, _response) = tokio_tungstenite::connect_async(url.as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Conn::Ws(Box::new(ws)))
            }
        }
    };
    timeout(CONNECT_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| Err("connection attempt timed out".to_owned()))
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
                Err(reason) => return End::Lost(reason),
            }
        }
    }

    /// Waits for the next line(s). Cancel safe: a partly read TCP line stays in `buf`.
    async fn receive(&mut self, buf: &mut Vec<u8>) -> Result<Vec<String>, String> {
        match self {
            Conn::Tcp { reader, .. } => {
                loop {
                    let before = buf.len();
                    let limit = (MAX_LINE - before.min(MAX_LINE)).max(1) as u64;
                    let read = (&mut *reader)
                        .take(limit)
                        .read_until(b'\n', buf)
                        .await
                        .map_err(|e| e.to_string())?;
                    if read == 0 && buf.len() == before {
                        return Err("the server closed the connection".to_owned());
                    }
                    if buf.ends_with(b"\n") || buf.len() >= MAX_LINE {
                        break;
                    }
                }
                let line = String::from_utf8_lossy(buf)
                    .trim_end_matches(['\r', '\n'])
                    .to_owned();
                buf.clear();
                Ok(vec![line])
            }
            Conn::Ws(ws) => loop {
                match ws.next().await {
                    None => return Err("the server closed the connection".to_owned()),
                    Some(Err(e)) => return Err(e.to_string()),
                    Some(Ok(Message::Text(text))) => {
                        return Ok(text.as_str().split('\n').map(str::to_owned).collect());
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return Err(match frame {
                            Some(frame) if !frame.reason.is_empty() => {
                                format!("the server closed the connection: {}", frame.reason)
                            }
                            _ => "the server closed the connection".to_owned(),
                        });
                    }
                    // Pings are answered by tungstenite; binary frames are not part of the protocol.
                    Some(Ok(_)) => {}
                }
            },
        }
    }
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
