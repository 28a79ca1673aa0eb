//! One client connection: connect, read replies as lines, write commands; TCP or WebSocket.

use std::io;
use std::net::SocketAddr;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt as _, SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::target::Transport;

/// Why a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// A socket error.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A WebSocket protocol error (handshake included).
    #[error("websocket: {0}")]
    Ws(#[from] tungstenite::Error),
    /// Our own command bytes were not UTF-8 (cannot happen with bench payloads).
    #[error("command is not UTF-8")]
    NotUtf8,
}

/// Receives the lines of one read.
pub trait LineSink {
    /// Called once per read, before its lines.
    fn batch_start(&mut self) {}
    /// One reply line without its line end.
    fn line(&mut self, line: &[u8]);
    /// Called once per read, after its lines.
    fn batch_end(&mut self) {}
}

/// The reading half of a connection.
pub enum Reader {
    /// TCP: a buffer of bytes; complete lines are handed out, the tail is kept.
    Tcp {
        /// The socket.
        half: OwnedReadHalf,
        /// Bytes read, `buf[start..end]` not yet handed out.
        buf: Vec<u8>,
        /// Start of pending bytes.
        start: usize,
        /// End of pending bytes.
        end: usize,
    },
    /// WebSocket: one reply per text frame.
    Ws(SplitStream<WebSocketStream<TcpStream>>),
}

/// The writing half of a connection.
pub enum Writer {
    /// TCP.
    Tcp(OwnedWriteHalf),
    /// WebSocket.
    Ws(SplitSink<WebSocketStream<TcpStream>, Message>),
}

/// Connects to `addr` over `transport` (TCP_NODELAY on; WebSocket handshake done), with a
/// read buffer of `read_buf` bytes (a TCP buffer grows if a single line is longer).
pub async fn connect(
    addr: SocketAddr,
    transport: &Transport,
    read_buf: usize,
) -> Result<(Reader, Writer), ConnError> {
    let read_buf = read_buf.max(1024);
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    match transport {
        Transport::Tcp => {
            let (r, w) = stream.into_split();
            Ok((
                Reader::Tcp {
                    half: r,
                    buf: vec![0; read_buf],
                    start: 0,
                    end: 0,
                },
                Writer::Tcp(w),
            ))
        }
        Transport::Ws { url } => {
            let config = WebSocketConfig::default()
                .read_buffer_size(read_buf)
                .write_buffer_size(0);
            let (ws, _response) =
                tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(config))
                    .await?;
            let (sink, stream) = ws.split();
            Ok((Reader::Ws(stream), Writer::Ws(sink)))
        }
    }
}

impl Reader {
    /// Waits for data and hands every complete reply line to `sink`.
    ///
    /// Returns `Ok(false)` when the server closed the connection. Cancel-safe: lines are only
    /// handed out after a read completed.
    pub async fn read_batch(&mut self, sink: &mut impl LineSink) -> Result<bool, ConnError> {
        match self {
            Reader::Tcp {
                half,
                buf,
                start,
                end,
            } => {
                if *start > 0 && *start == *end {
                    *start = 0;
                    *end = 0;
                } else if *end == buf.len() {
                    if *start > 0 {
                        buf.copy_within(*start..*end, 0);
                        *end -= *start;
                        *start = 0;
                    } else {
                        let len = buf.len();
                        buf.resize(len * 2, 0);
                    }
                }
                let n = half.read(&mut buf[*end..]).await?;
                if n == 0 {
                    return Ok(false);
                }
                *end += n;
                sink.batch_start();
                let mut pos = *start;
                while let Some(i) = memchr::memchr(b'\n', &buf[pos..*end]) {
                    let mut line = &buf[pos..pos + i];
                    if let Some(l) = line.strip_suffix(b"\r") {
                        line = l;
                    }
                    sink.line(line);
                    pos += i + 1;
                }
                *start = pos;
                sink.batch_end();
                Ok(true)
            }
            Reader::Ws(stream) => {
                // Waits for the first text frame; then takes every frame already read (in
                // tungstenite's buffer, or waiting in the socket) into the same batch, as one
                // TCP read hands out every line it got: one clock reading and one update of
                // the shared counters per batch, not per frame.
                let first = loop {
                    match ws_frame(stream.next().await)? {
                        Frame::Text(text) => break text,
                        Frame::Closed => return Ok(false),
                        Frame::Other => {}
                    }
                };
                sink.batch_start();
                sink.line(first.as_bytes());
                let mut open = true;
                let mut failed = None;
                for _ in 1..MAX_WS_BATCH {
                    let Some(next) = stream.next().now_or_never() else {
                        break;
                    };
                    match ws_frame(next) {
                        Ok(Frame::Text(text)) => sink.line(text.as_bytes()),
                        Ok(Frame::Other) => {}
                        Ok(Frame::Closed) => {
                            open = false;
                            break;
                        }
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                sink.batch_end();
                match failed {
                    Some(e) => Err(e),
                    None => Ok(open),
                }
            }
        }
    }
}

/// The most frames one WebSocket batch takes: about what one 64 KiB TCP read holds in lines, so
/// a batch's one clock reading stays as close to its last frame's arrival as over TCP.
const MAX_WS_BATCH: usize = 1024;

/// What one read from a WebSocket stream brought.
enum Frame {
    /// A text frame: one reply line.
    Text(tungstenite::Utf8Bytes),
    /// The server closed the connection (a close frame, or the end of the stream).
    Closed,
    /// Anything else (pings are answered by tungstenite on the next write or flush).
    Other,
}

fn ws_frame(next: Option<Result<Message, tungstenite::Error>>) -> Result<Frame, ConnError> {
    match next {
        None | Some(Ok(Message::Close(_))) => Ok(Frame::Closed),
        Some(Err(e)) => Err(e.into()),
        Some(Ok(Message::Text(text))) => Ok(Frame::Text(text)),
        Some(Ok(_)) => Ok(Frame::Other),
    }
}

impl Writer {
    /// Sends commands: `lines` holds one or more commands, each ending in `\n`.
    ///
    /// Over WebSocket they go out as one text frame (the protocol splits a frame at `\n`).
    pub async fn send(&mut self, lines: &[u8]) -> Result<(), ConnError> {
        match self {
            Writer::Tcp(w) => Ok(w.write_all(lines).await?),
            Writer::Ws(sink) => {
                let text = std::str::from_utf8(lines).map_err(|_| ConnError::NotUtf8)?;
                Ok(sink.send(Message::text(text)).await?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Records how lines arrive: one entry per batch.
    #[derive(Default)]
    struct Batches {
        batches: Vec<Vec<String>>,
        open: bool,
    }

    impl LineSink for Batches {
        fn batch_start(&mut self) {
            assert!(!self.open, "batches do not nest");
            self.open = true;
            self.batches.push(Vec::new());
        }
        fn line(&mut self, line: &[u8]) {
            assert!(self.open, "a line outside a batch");
            let batch = self.batches.last_mut().expect("a batch was started");
            batch.push(String::from_utf8_lossy(line).into_owned());
        }
        fn batch_end(&mut self) {
            assert!(self.open, "a batch ended twice");
            self.open = false;
        }
    }

    /// A server text frame (unmasked), as the chat servers write them.
    fn text_frame(text: &str) -> Vec<u8> {
        let mut frame = vec![0x81, u8::try_from(text.len()).expect("a short text")];
        frame.extend_from_slice(text.as_bytes());
        frame
    }

    #[tokio::test]
    async fn websocket_frames_read_together_are_one_batch_and_a_close_ends_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(socket).await.unwrap();
            let raw = ws.get_mut();
            // Three frames in one write: the client reads them at once.
            let three = [text_frame("a"), text_frame("bb"), text_frame("ccc")].concat();
            raw.write_all(&three).await.unwrap();
            // Then a frame and the close frame (1000) in one write.
            let last = [text_frame("d"), vec![0x88, 0x02, 0x03, 0xe8]].concat();
            raw.write_all(&last).await.unwrap();
            ws
        });
        let transport = Transport::Ws {
            url: format!("ws://{addr}/"),
        };
        let (mut reader, _writer) = connect(addr, &transport, 1024).await.unwrap();
        let mut sink = Batches::default();
        let mut reads = 0;
        while reader.read_batch(&mut sink).await.unwrap() {
            reads += 1;
            assert!(
                reads < 10,
                "the close frame ends the reads: {:?}",
                sink.batches
            );
        }
        let lines: Vec<String> = sink.batches.concat();
        assert_eq!(lines, ["a", "bb", "ccc", "d"], "every line, in order");
        assert!(
            sink.batches.iter().any(|batch| batch.len() >= 3),
            "frames that arrived together are one batch: {:?}",
            sink.batches
        );
        assert!(!sink.open);
        drop(server.await.unwrap());
    }
}
