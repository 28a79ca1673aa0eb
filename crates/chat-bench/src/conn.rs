//! One client connection: connect, read replies as lines, write commands; TCP or WebSocket.
//!
//! Both transports read into one `ReadBuf` and hand every complete reply of a read to a
//! [`LineSink`] as one batch, so a client takes one clock reading and updates the shared
//! counters once per read, not once per line. The WebSocket side is in [`crate::ws`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::target::Transport;
use crate::ws::{self, WsReader};

/// Why a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// A socket error.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A WebSocket request that could not be built or a reply that could not be parsed.
    #[error("websocket: {0}")]
    Ws(#[from] tungstenite::Error),
    /// The server refused the WebSocket handshake or answered it wrongly.
    #[error("websocket handshake: {0}")]
    Handshake(String),
    /// The server broke the WebSocket framing rules (RFC 6455).
    #[error("websocket protocol: {0}")]
    Protocol(&'static str),
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

/// Bytes read from a socket and not yet handed out: `buf[start..end]`.
///
/// Reads go into the free space after `end`; when it runs out the pending bytes move to the
/// front, and the buffer only grows when a single line (or frame) is longer than it.
pub(crate) struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    /// An empty buffer of `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        ReadBuf {
            buf: vec![0; capacity],
            start: 0,
            end: 0,
        }
    }

    /// The bytes read and not yet consumed.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks the first `n` pending bytes as handed out.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads once from `from`, after making room for at least one more byte and for `need`
    /// pending bytes in all (the size of a frame whose header has been read). Returns how many
    /// bytes came: 0 at the end of the stream. Cancel-safe: nothing is read until it completes.
    pub(crate) async fn fill(
        &mut self,
        from: &mut (impl AsyncRead + Unpin),
        need: usize,
    ) -> io::Result<usize> {
        let need = need.max(self.end - self.start + 1);
        if self.buf.len() - self.start < need {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() < need {
                let grown = need.max(self.buf.len() * 2);
                self.buf.resize(grown, 0);
            }
        }
        let n = from.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }
}

/// The reading half of a connection.
pub enum Reader {
    /// TCP: replies end in `\n` (an `\r` before it is dropped).
    Tcp(TcpReader),
    /// WebSocket: one reply per text message.
    Ws(WsReader),
}

/// The reading half of a TCP connection.
pub struct TcpReader {
    half: OwnedReadHalf,
    buf: ReadBuf,
}

/// The writing half of a connection. [`Writer::handle`] gives another one for the same
/// socket (the receiving side answers IRC `PING`s with it); writes never interleave.
pub struct Writer {
    out: Arc<Mutex<Outgoing>>,
    /// Commands go out as WebSocket text frames.
    websocket: bool,
}

/// A socket's writing side and what is queued for it, shared by a connection's writers (and,
/// over WebSocket, its reader, for pongs and the close reply).
pub(crate) struct Outgoing {
    half: OwnedWriteHalf,
    /// What to write: `bytes[written..]` has not been written yet.
    pub(crate) bytes: Vec<u8>,
    written: usize,
}

impl Outgoing {
    /// The writing side of a socket, nothing queued.
    pub(crate) fn shared(half: OwnedWriteHalf) -> Arc<Mutex<Outgoing>> {
        Arc::new(Mutex::new(Outgoing {
            half,
            bytes: Vec::new(),
            written: 0,
        }))
    }

    /// Writes everything queued. Cancel-safe: what a cancelled write left stays queued, and
    /// the next flush (by whichever side writes next) finishes it before anything else.
    pub(crate) async fn flush(&mut self) -> Result<(), ConnError> {
        while self.written < self.bytes.len() {
            let n = self.half.write(&self.bytes[self.written..]).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            self.written += n;
        }
        self.bytes.clear();
        self.written = 0;
        Ok(())
    }
}

/// Connects to `addr` over `transport` (TCP_NODELAY on; WebSocket handshake done), with a
/// read buffer of `read_buf` bytes (it grows if a single line or frame is longer).
pub async fn connect(
    addr: SocketAddr,
    transport: &Transport,
    read_buf: usize,
) -> Result<(Reader, Writer), ConnError> {
    let mut buf = ReadBuf::new(read_buf.max(1024));
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    match transport {
        Transport::Tcp => {
            let (half, w) = stream.into_split();
            let writer = Writer {
                out: Outgoing::shared(w),
                websocket: false,
            };
            Ok((Reader::Tcp(TcpReader { half, buf }), writer))
        }
        Transport::Ws { url } => {
            ws::handshake(&mut stream, url, &mut buf).await?;
            let (r, out) = ws::split(stream, buf);
            let writer = Writer {
                out,
                websocket: true,
            };
            Ok((Reader::Ws(r), writer))
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
            Reader::Tcp(tcp) => tcp.read_batch(sink).await,
            Reader::Ws(ws) => ws.read_batch(sink).await,
        }
    }
}

impl Reader {
    /// What the server's WebSocket close frame said (`1009 message too big`), once one came.
    pub fn close_reason(&self) -> Option<&str> {
        match self {
            Reader::Tcp(_) => None,
            Reader::Ws(ws) => ws.close(),
        }
    }
}

impl TcpReader {
    async fn read_batch(&mut self, sink: &mut impl LineSink) -> Result<bool, ConnError> {
        if self.buf.fill(&mut self.half, 0).await? == 0 {
            return Ok(false);
        }
        sink.batch_start();
        let pending = self.buf.pending();
        let mut pos = 0;
        while let Some(i) = memchr::memchr(b'\n', &pending[pos..]) {
            let mut line = &pending[pos..pos + i];
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            sink.line(line);
            pos += i + 1;
        }
        self.buf.consume(pos);
        sink.batch_end();
        Ok(true)
    }
}

impl Writer {
    /// Sends commands: `lines` holds one or more commands, each ending in `\n`.
    ///
    /// Over WebSocket they go out as one text frame (the protocol splits a frame at `\n`).
    ///
    /// Cancel-safe: once queued, the commands go out whole, with the next write at the latest.
    pub async fn send(&mut self, lines: &[u8]) -> Result<(), ConnError> {
        if self.websocket && std::str::from_utf8(lines).is_err() {
            return Err(ConnError::NotUtf8);
        }
        let mut out = self.out.lock().await;
        if self.websocket {
            ws::push_frame(&mut out.bytes, OpCode::Data(Data::Text), lines);
        } else {
            out.bytes.extend_from_slice(lines);
        }
        out.flush().await
    }

    /// Another writer for the same socket.
    pub fn handle(&self) -> Writer {
        Writer {
            out: Arc::clone(&self.out),
            websocket: self.websocket,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Records how lines arrive: one entry per batch.
    #[derive(Default)]
    pub(crate) struct Batches {
        pub(crate) batches: Vec<Vec<String>>,
        pub(crate) open: bool,
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

    #[tokio::test]
    async fn tcp_lines_split_across_reads_and_longer_than_the_buffer_arrive_whole() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let long = "x".repeat(5000);
        let sent = long.clone();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            socket.write_all(b"one\r\ntw").await.unwrap();
            socket.flush().await.unwrap();
            let mut rest = b"o\n".to_vec();
            rest.extend_from_slice(sent.as_bytes());
            rest.extend_from_slice(b"\nthree\n");
            socket.write_all(&rest).await.unwrap();
        });
        let (mut reader, _writer) = connect(addr, &Transport::Tcp, 1024).await.unwrap();
        let mut sink = Batches::default();
        while reader.read_batch(&mut sink).await.unwrap() {}
        server.await.unwrap();
        let lines: Vec<String> = sink.batches.concat();
        assert_eq!(lines, ["one", "two", long.as_str(), "three"]);
    }
}
