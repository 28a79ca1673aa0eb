//! One upgraded WebSocket connection between a client and the kernel, written once for the
//! tokio, async-std and smol front-ends (PROTOCOL.md section 1, "WebSocket").
//!
//! A front-end answers the HTTP head, wraps the socket as a server-side tungstenite stream
//! configured by [`websocket_config`] and hands it to [`serve_websocket`] with its
//! [`Runtime`] (timer and yield). Everything after that is the same on every runtime, so it
//! lives here:
//!
//! - registration with the kernel; `server full` as a text frame, then close 1013;
//! - a reader: text frame -> [`Kernel::handle_frame`], binary frame -> the binary-frame error,
//!   a message over the limit -> close 1009, invalid UTF-8 -> close 1007, close frame or a
//!   dropped socket -> logout; tungstenite queues the pong to a ping and the reader's next read
//!   flushes it;
//! - the idle rule: a client silent for [`Limits::ws_idle`] is pinged, and dropped when it is
//!   silent as long again;
//! - a writer: each batch of the connection's [`Outbox`], text frames the kernel framed once
//!   per broadcast, is gathered into the connection's [`Wire`], then flushed through
//!   tungstenite in one write; woken from idle, it first lets the other ready readers run
//!   ([`Runtime::writer_turn`]), so the write carries what they add too; only pings go through
//!   tungstenite as messages; when the kernel closes the outbox (logout, shutdown) the writer
//!   sends a close frame after the last line;
//! - the writer races [`Outbox::aborted`], so a slow client stuck in a write is cut off at once.
//!
//! The reader and writer run concurrently on the two halves of the stream, so a client that
//! does not read its replies cannot stop the server from reading (and from dropping it once its
//! queue is full). After the session the front-end closes the socket; unless the closing
//! handshake completed, with a short linger (see [`LINGER`]) so the close frame is not lost to
//! a TCP reset.
//!
//! Close codes: 1000 after `logout`, 1001 at shutdown and for an idle client, 1002 for a
//! protocol error, 1007 for invalid UTF-8, 1009 for a message over the limit, 1013 when the
//! server is full.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chat_kernel::outbox::recycle;
use chat_kernel::{
    Closing, ConnId, Connection, Flow, Input, Kernel, Limits, Outbox, Refused, Transport,
};
use futures_util::future::{Either, select};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tungstenite::error::{Error as WsError, ProtocolError};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes};

use crate::Wire;

/// How long the server waits for its close frame to go out and for the client's close reply.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a front-end keeps reading (and discarding) from a socket it is closing, after it
/// shut down its write side (the same linger as the TCP front-ends').
pub use chat_kernel::shutdown::LINGER;

/// Read buffer of a connection. tungstenite allocates it eagerly and keeps it, so it is sized
/// for what clients send (a command is a few dozen bytes; a larger frame grows it as needed):
/// the default (128 KiB) would cost a gigabyte at the connection limit.
const READ_BUFFER: usize = 512;

/// The tungstenite configuration of a server-side connection: messages and frames up to
/// `--max-ws-message`, a small read buffer, and no write buffer of tungstenite's own: each
/// frame goes straight to the [`GatherStream`](crate::GatherStream) under it, which writes a
/// batch at once and keeps no memory between batches (tungstenite's buffer keeps its largest
/// size for the connection's life).
pub fn websocket_config(limits: &Limits) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(limits.max_ws_message))
        .max_frame_size(Some(limits.max_ws_message))
}

/// What a session needs of its runtime: a timer, and the wait that lets the other ready
/// readers run before a writer woken from idle writes. Each front-end implements it.
pub trait Runtime {
    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;

    /// What the writer, woken from idle by the first payload, waits for before it takes the
    /// rest and writes, so the write carries what the other ready readers add: on tokio a
    /// yield (which also lets the I/O driver run), on the async-io reactor its next turn (see
    /// `chat_async_io`). It may take more of the outbox into `batch`.
    fn writer_turn<'a>(
        &'a self,
        outbox: &'a Outbox,
        batch: &'a mut Vec<Bytes>,
    ) -> impl Future<Output = ()> + Send + 'a;
}

/// Serves one upgraded connection until it ends, and sends its close frame.
///
/// `ws` is the server-side stream (tokio-tungstenite or async-tungstenite, configured with
/// [`websocket_config`]) over a `GatherStream` whose [`Wire`] is `wire`; `runtime` gives the
/// timer and the yield. Returns `true` when the closing
/// handshake completed (the client sent its close frame, so nothing more can come from it):
/// the front-end may then drop the socket at once; otherwise it closes the socket with a
/// linger (see [`LINGER`]).
pub async fn serve_websocket<W, R>(
    kernel: &Kernel,
    server: &Arc<str>,
    peer: SocketAddr,
    ws: &mut W,
    wire: &Wire,
    runtime: R,
) -> bool
where
    W: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
    R: Runtime,
{
    let after = match kernel.connect(server, peer, Transport::WebSocket) {
        Ok(connection) => session(kernel, connection, ws, wire, &runtime).await,
        Err(Refused::ServerFull(payload)) => {
            // Framed by the kernel like every other line; the close frame's send below flushes
            // it first.
            let _ = wire.push_frames(std::slice::from_ref(&payload));
            After::Close(close_frame(CloseCode::Again, "server full"))
        }
        Err(Refused::ShuttingDown) => {
            After::Close(close_frame(CloseCode::Away, "server shutting down"))
        }
    };
    match after {
        After::Closed => true,
        After::Drop => false,
        After::Close(frame) => {
            let handshake = async {
                if ws.send(Message::Close(Some(frame))).await.is_err() {
                    return false;
                }
                // Until the client's close reply (or the end of a stream that failed).
                let mut replied = false;
                while let Some(Ok(message)) = ws.next().await {
                    replied |= matches!(message, Message::Close(_));
                }
                replied
            };
            match select(pin!(handshake), pin!(runtime.sleep(CLOSE_TIMEOUT))).await {
                Either::Left((replied, _)) => replied,
                Either::Right(_) => false,
            }
        }
    }
}

/// What is left to do once a session ended.
#[derive(Debug)]
enum After {
    /// Send this close frame and wait for the reply.
    Close(CloseFrame),
    /// The client closed (and tungstenite replied): done.
    Closed,
    /// Nothing can be sent (the socket failed, or the kernel dropped a slow client).
    Drop,
}

/// How a session ended.
#[derive(Debug)]
enum End {
    /// The client sent a close frame, tungstenite replied, and the stream ended.
    Closed,
    /// The socket ended without a close frame, or failed: the reason, for the console.
    Gone(String),
    /// The client broke a rule of the protocol: close with this code and reason.
    Broke(CloseCode, &'static str),
    /// The client stayed silent after a ping: close with 1001 (bounded by [`CLOSE_TIMEOUT`]).
    Idle,
    /// The kernel said to stop reading (logout, or the connection was dropped); the writer
    /// finishes.
    Stopped,
    /// The kernel closed the outbox gracefully and the writer sent everything in it.
    Finished,
    /// The kernel dropped the connection (send queue full): close at once.
    Aborted,
}

impl From<WsError> for End {
    fn from(error: WsError) -> End {
        match error {
            WsError::Capacity(_) => End::Broke(CloseCode::Size, "message too big"),
            WsError::Utf8(_) => End::Broke(CloseCode::Invalid, "invalid UTF-8"),
            WsError::ConnectionClosed | WsError::AlreadyClosed => {
                End::Gone("connection closed".into())
            }
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                End::Gone("connection closed".into())
            }
            WsError::Protocol(_) => End::Broke(CloseCode::Protocol, "protocol error"),
            other => End::Gone(other.to_string()),
        }
    }
}

fn close_frame(code: CloseCode, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }
}

/// Runs a registered connection; returns what is left to do.
async fn session<W, R>(
    kernel: &Kernel,
    connection: Connection,
    ws: &mut W,
    wire: &Wire,
    runtime: &R,
) -> After
where
    W: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
    R: Runtime,
{
    let Connection { id, outbox } = connection;
    // The reader asks the writer for a ping; one pending request is enough.
    let (ping_tx, ping_rx) = async_channel::bounded::<()>(1);
    let end = {
        let (sink, stream) = ws.split();
        let reader = pin!(read(kernel, id, stream, &ping_tx, runtime));
        let writer = write(&outbox, wire, sink, &ping_rx, runtime);
        let mut writing = pin!(async {
            match select(pin!(writer), outbox.aborted()).await {
                Either::Left((end, _)) => end,
                Either::Right(_) => End::Aborted,
            }
        });
        let first = match select(reader, writing.as_mut()).await {
            Either::Left((end, _)) | Either::Right((end, _)) => end,
        };
        match first {
            // The reader stopped (logout): the writer still sends the logout line, within
            // the idle time: the kernel no longer holds this connection, so nothing else would
            // cut off a client that stopped reading.
            End::Stopped => {
                match select(writing, pin!(runtime.sleep(kernel.limits().ws_idle))).await {
                    Either::Left((end, _)) => end,
                    Either::Right(_) => End::Gone("last lines not taken in time".into()),
                }
            }
            end => end,
        }
    };
    let (reason, after) = match end {
        End::Closed => ("connection closed".to_owned(), After::Closed),
        End::Gone(reason) => (reason, After::Drop),
        End::Broke(code, reason) => (reason.to_owned(), After::Close(close_frame(code, reason))),
        End::Idle => (
            "WebSocket timeout".to_owned(),
            After::Close(close_frame(CloseCode::Away, "WebSocket timeout")),
        ),
        End::Stopped | End::Finished => {
            let frame = if kernel.shutdown_signal().is_triggered() {
                close_frame(CloseCode::Away, "server shutting down")
            } else {
                close_frame(CloseCode::Normal, "")
            };
            ("connection closed".to_owned(), After::Close(frame))
        }
        End::Aborted => ("connection closed".to_owned(), After::Drop),
    };
    // Idempotent: a connection the kernel already closed is left alone. For a connection that
    // broke the protocol this aborts the outbox first, so nothing follows the close frame.
    kernel.disconnect(id, &reason);
    after
}

/// The reader: client frames to the kernel, and the idle rule.
async fn read<M, R>(
    kernel: &Kernel,
    id: ConnId,
    mut stream: M,
    ping: &async_channel::Sender<()>,
    runtime: &R,
) -> End
where
    M: Stream<Item = Result<Message, WsError>> + Unpin,
    R: Runtime,
{
    let idle = kernel.limits().ws_idle;
    // One timer per idle period, not one per frame: when it fires after activity, it is set
    // again for the rest of the period.
    let mut timer = pin!(runtime.sleep(idle));
    let mut last_heard = Instant::now();
    let mut pinged = false;
    let mut closed = false;
    loop {
        let message = match select(stream.next(), timer.as_mut()).await {
            Either::Left((message, _)) => message,
            Either::Right(_) => {
                let quiet = last_heard.elapsed();
                if quiet < idle {
                    timer.set(runtime.sleep(idle - quiet));
                } else if pinged {
                    return End::Idle;
                } else {
                    pinged = true;
                    // Full means a ping is already waiting for the writer.
                    let _ = ping.try_send(());
                    // The client gets as long again to answer.
                    last_heard = Instant::now();
                    timer.set(runtime.sleep(idle));
                }
                continue;
            }
        };
        last_heard = Instant::now();
        pinged = false;
        let flow = match message {
            None if closed => return End::Closed,
            None => return End::Gone("connection closed".into()),
            Some(Err(error)) => return End::from(error),
            Some(Ok(Message::Text(text))) => kernel.handle_frame(id, &text),
            Some(Ok(Message::Binary(_))) => kernel.handle(id, Input::BinaryFrame),
            // tungstenite queued the reply; the next read flushes it, then the stream ends.
            Some(Ok(Message::Close(_))) => {
                closed = true;
                Flow::Continue
            }
            // Ping: tungstenite queued the pong, and the next read (right below) flushes it
            // before reading. Pong: the client is alive, which is all it says.
            Some(Ok(_)) => Flow::Continue,
        };
        if flow == Flow::Close {
            return End::Stopped;
        }
    }
}

/// The writer: outbox batches (text frames already) into the wire, one flush per batch; pings
/// on request.
async fn write<K, R>(
    outbox: &Outbox,
    wire: &Wire,
    mut sink: K,
    ping: &async_channel::Receiver<()>,
    runtime: &R,
) -> End
where
    K: Sink<Message, Error = WsError> + Unpin,
    R: Runtime,
{
    let mut batch = Vec::new();
    // One wait for a ping request across batches: a new one per batch registered and dropped
    // a listener on the channel each time (about 2% of a WebSocket server's CPU when 100
    // clients all send).
    let mut ping_request = pin!(ping.recv());
    loop {
        // A ping asked for while output kept coming goes out before the next batch: the wait
        // below sees requests only when the outbox is empty, and a client that reads a busy
        // chat without writing must still be asked whether it is there.
        if ping.try_recv().is_ok()
            && let Err(error) = sink.send(Message::Ping(Bytes::new())).await
        {
            return End::from(error);
        }
        let more = match outbox.try_batch(&mut batch) {
            Some(more) => more,
            None => {
                let woken = match select(pin!(outbox.next_batch(&mut batch)), ping_request.as_mut())
                    .await
                {
                    Either::Left((more, _)) => Some(more),
                    Either::Right(_) => None,
                };
                match woken {
                    Some(true) => {
                        // Woken from idle: let the other readers that are ready run first, so
                        // this write carries what they add too (as the TCP writers do).
                        runtime.writer_turn(outbox, &mut batch).await;
                        let _ = outbox.try_batch(&mut batch);
                        true
                    }
                    Some(false) => false,
                    None => {
                        ping_request.set(ping.recv());
                        if let Err(error) = sink.send(Message::Ping(Bytes::new())).await {
                            return End::from(error);
                        }
                        continue;
                    }
                }
            }
        };
        if !more {
            break;
        }
        // Framed by the kernel, handed on as they are; tungstenite only flushes the wire (and
        // wakes this task through its own waker handling when the socket is full).
        if wire.push_frames(&batch).is_err() {
            // tungstenite answered the client's close frame: the reader sees the end.
            return End::Closed;
        }
        recycle(&mut batch);
        if let Err(error) = sink.flush().await {
            return End::from(error);
        }
    }
    match outbox.closing() {
        Some(Closing::Abort) => End::Aborted,
        _ => End::Finished,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_applies_the_message_limit() {
        let limits = Limits {
            max_ws_message: 1234,
            ..Limits::default()
        };
        let config = websocket_config(&limits);
        assert_eq!(config.max_message_size, Some(1234));
        assert_eq!(config.max_frame_size, Some(1234));
        assert_eq!(config.read_buffer_size, READ_BUFFER);
        assert_eq!(
            config.write_buffer_size, 0,
            "frames go straight to the GatherStream"
        );
    }

    /// A runtime whose timers never fire and whose writer never waits.
    struct Still;

    impl Runtime for Still {
        async fn sleep(&self, _: Duration) {
            std::future::pending::<()>().await;
        }
        fn writer_turn<'a>(
            &'a self,
            _: &'a Outbox,
            _: &'a mut Vec<Bytes>,
        ) -> impl Future<Output = ()> + Send + 'a {
            std::future::ready(())
        }
    }

    /// A sink that records what the writer sends, and on each of its first `refills` flushes
    /// queues another line, as a busy chat would while the writer writes.
    struct Busy {
        sent: Vec<&'static str>,
        refill: chat_kernel::outbox::OutboxSender,
        refills: usize,
    }

    impl Sink<Message> for Busy {
        type Error = WsError;
        fn poll_ready(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), WsError>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn start_send(mut self: std::pin::Pin<&mut Self>, item: Message) -> Result<(), WsError> {
            let what = if item.is_ping() { "ping" } else { "other" };
            self.sent.push(what);
            Ok(())
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), WsError>> {
            self.sent.push("flush");
            if self.refills > 0 {
                self.refills -= 1;
                let _ = self
                    .refill
                    .push(Bytes::from_static(b"\x81\x0d[INFO] - more"));
            }
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), WsError>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn a_ping_request_is_not_starved_by_output_that_keeps_coming() {
        let (sender, outbox) = chat_kernel::outbox::outbox(1 << 20);
        sender
            .push(Bytes::from_static(b"\x81\x0e[INFO] - first"))
            .unwrap();
        let (ping_tx, ping_rx) = async_channel::bounded::<()>(1);
        let mut sink = Busy {
            sent: Vec::new(),
            refill: sender.clone(),
            refills: 5,
        };
        // The reader's idle timer asks for a ping while output is queued.
        ping_tx.try_send(()).unwrap();
        let wire = Wire::default();
        {
            let writer = pin!(write(&outbox, &wire, &mut sink, &ping_rx, &Still));
            let waker = futures_util::task::noop_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            // Writes every batch the busy sink keeps adding, then waits for more.
            assert!(writer.poll(&mut cx).is_pending());
        }
        let flushes_before_ping = sink
            .sent
            .iter()
            .take_while(|s| **s != "ping")
            .filter(|s| **s == "flush")
            .count();
        assert!(
            sink.sent.contains(&"ping"),
            "the ping went out: {:?}",
            sink.sent
        );
        assert!(
            flushes_before_ping <= 1,
            "the ping waited for the output to stop: {:?}",
            sink.sent
        );
        // The ping's flush, and one per batch: the first (with the first refill) and four more.
        assert_eq!(sink.sent.iter().filter(|s| **s == "flush").count(), 6);
    }

    #[test]
    fn read_errors_map_to_close_codes() {
        let too_big = WsError::Capacity(tungstenite::error::CapacityError::MessageTooLong {
            size: 2,
            max_size: 1,
        });
        assert!(matches!(End::from(too_big), End::Broke(CloseCode::Size, _)));
        assert!(matches!(
            End::from(WsError::Utf8("x".into())),
            End::Broke(CloseCode::Invalid, _)
        ));
        assert!(matches!(
            End::from(WsError::Protocol(
                ProtocolError::ResetWithoutClosingHandshake
            )),
            End::Gone(_)
        ));
        assert!(matches!(End::from(WsError::ConnectionClosed), End::Gone(_)));
    }
}
