//! One client connection: connect, read replies as lines, write commands; TCP or WebSocket.

use std::io;
use std::net::SocketAddr;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
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
            Reader::Ws(stream) => loop {
                match stream.next().await {
                    None => return Ok(false),
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok(Message::Text(text))) => {
                        sink.batch_start();
                        sink.line(text.as_bytes());
                        sink.batch_end();
                        return Ok(true);
                    }
                    Some(Ok(Message::Close(_))) => return Ok(false),
                    // Pings are answered by tungstenite on the next write or flush.
                    Some(Ok(_)) => {}
                }
            },
        }
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
