//! The bench's WebSocket client: the handshake, and frames read and written straight from the
//! socket.
//!
//! Why not `tokio-tungstenite`'s stream: a load generator's appetite caps what it can measure.
//! Profiles of WebSocket runs put tungstenite's per-message machinery (a `Message` per frame,
//! UTF-8 validation, the `Sink`/`Stream` state, a flush per send) at a quarter of the bench's
//! CPU, on the core the server needs too. Here a read takes every complete frame in the buffer
//! and hands each text payload to the sink in place, as a TCP read hands out lines. tungstenite
//! still builds the request and parses the response and the frame headers; only the loop
//! around them is ours.
//!
//! What the client does with each frame (RFC 6455):
//! - text: one reply line (a fragmented message is joined first); binary: ignored;
//! - ping: answered with a pong carrying the same payload; pong: ignored;
//! - close: answered with a close carrying the same status code; the connection then ends;
//! - anything a server must not send (a masked frame, a reserved bit or opcode, a fragmented
//!   or long control frame, a continuation with no message to continue, a message over
//!   [`MAX_MESSAGE`]): [`ConnError::Protocol`].
//!
//! Client frames are masked (a fresh random key per frame), as the RFC requires.

use std::io::Cursor;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::{Response, generate_request};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::machine::TryParse;
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use crate::conn::{ConnError, LineSink, Outgoing, ReadBuf};

/// The largest message the client takes (frame or joined fragments): far above any chat reply.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// The largest handshake response the client reads.
const MAX_RESPONSE: usize = 16 * 1024;

/// The largest control-frame payload (RFC 6455, 5.5).
const MAX_CONTROL: u64 = 125;

/// Sends the opening handshake for `url` over `stream` and checks the server's answer. Bytes
/// the server sent after its response (a greeting can come in the same segment) stay in `buf`.
pub(crate) async fn handshake(
    stream: &mut TcpStream,
    url: &str,
    buf: &mut ReadBuf,
) -> Result<(), ConnError> {
    let (request, key) = generate_request(url.into_client_request()?)?;
    stream.write_all(&request).await?;
    let accept = derive_accept_key(key.as_bytes());
    loop {
        if let Some((len, response)) = Response::try_parse(buf.pending())? {
            buf.consume(len);
            return check_response(&response, &accept);
        }
        if buf.pending().len() >= MAX_RESPONSE {
            return Err(ConnError::Handshake(format!(
                "no complete response in {MAX_RESPONSE} bytes"
            )));
        }
        if buf.fill(stream, 0).await? == 0 {
            return Err(ConnError::Handshake(
                "the server closed the connection before answering".into(),
            ));
        }
    }
}

/// The checks RFC 6455 (4.1) asks of a client: status 101, `Upgrade: websocket`, a
/// `Connection` header with the `upgrade` token, and the accept key derived from ours.
fn check_response(response: &Response, accept: &str) -> Result<(), ConnError> {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(ConnError::Handshake(format!(
            "the server answered {} instead of 101 Switching Protocols",
            response.status()
        )));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    };
    if !header("Upgrade").eq_ignore_ascii_case("websocket") {
        return Err(ConnError::Handshake(
            "no `Upgrade: websocket` header".into(),
        ));
    }
    if !header("Connection")
        .split(',')
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
    {
        return Err(ConnError::Handshake(
            "no `Connection: upgrade` header".into(),
        ));
    }
    if header("Sec-WebSocket-Accept") != accept {
        return Err(ConnError::Handshake(
            "the Sec-WebSocket-Accept key does not match ours".into(),
        ));
    }
    Ok(())
}

/// Splits a connection whose handshake is done; `buf` holds what was read past the response.
/// The writing side is shared: the reader queues its control replies there.
pub(crate) fn split(stream: TcpStream, buf: ReadBuf) -> (WsReader, Arc<Mutex<Outgoing>>) {
    let (half, write) = stream.into_split();
    let out = Outgoing::shared(write);
    let reader = WsReader {
        half,
        buf,
        fragment: None,
        text: Vec::new(),
        replies: Vec::new(),
        out: Arc::clone(&out),
        closed: false,
        close: None,
    };
    (reader, out)
}

/// What a fragmented message in progress is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fragment {
    /// Text: its pieces gather in [`WsReader::text`].
    Text,
    /// Binary: ignored, piece by piece.
    Binary,
}

/// The reading half of a WebSocket connection.
pub struct WsReader {
    half: OwnedReadHalf,
    buf: ReadBuf,
    /// The fragmented message being read, if any.
    fragment: Option<Fragment>,
    /// The text of a fragmented text message so far.
    text: Vec<u8>,
    /// Control frames to send (pongs, the close reply), masked, not yet handed to the writer.
    replies: Vec<u8>,
    /// The socket's writing side, shared with the connection's [`Writer`](crate::conn::Writer).
    out: Arc<Mutex<Outgoing>>,
    /// The server sent a close frame, or the stream ended.
    closed: bool,
    /// The status code and reason of the server's close frame, as the report shows them.
    close: Option<String>,
}

/// `1009 message too big` from a close frame's payload (status code, then a UTF-8 reason);
/// `None` for a close without a status.
fn close_description(payload: &[u8]) -> Option<String> {
    let (code, reason) = payload.split_first_chunk::<2>()?;
    let code = u16::from_be_bytes(*code);
    let reason = String::from_utf8_lossy(reason);
    Some(if reason.is_empty() {
        code.to_string()
    } else {
        format!("{code} {reason}")
    })
}

impl WsReader {
    /// The status code and reason of the server's close frame, once one came.
    pub fn close(&self) -> Option<&str> {
        self.close.as_deref()
    }

    /// Waits for at least one text message (or the close), and hands every complete text
    /// message the buffer holds to `sink` as one batch.
    ///
    /// Returns `Ok(false)` once the server closed the connection. Cancel-safe: the only waits
    /// are a socket read before any line is handed out, and the writes of control replies,
    /// which stay queued if cancelled.
    pub async fn read_batch(&mut self, sink: &mut impl LineSink) -> Result<bool, ConnError> {
        self.send_replies().await?;
        let mut started = false;
        let taken = loop {
            let need = match self.take_frames(sink, &mut started) {
                Ok(need) => need,
                Err(e) => break Err(e),
            };
            if started || self.closed {
                break Ok(());
            }
            // Nothing to hand out yet: answer the pings read so far, then wait for more.
            self.send_replies().await?;
            if self.buf.fill(&mut self.half, need).await? == 0 {
                self.closed = true;
            }
        };
        if started {
            sink.batch_end();
        }
        taken?;
        if self.closed {
            self.send_replies().await?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Takes every complete frame from the buffer. Returns how many pending bytes the next
    /// frame needs when its header is complete (so the buffer can grow to hold it), else 0.
    fn take_frames(
        &mut self,
        sink: &mut impl LineSink,
        started: &mut bool,
    ) -> Result<usize, ConnError> {
        while !self.closed {
            let pending = self.buf.pending();
            let mut cursor = Cursor::new(pending);
            let Some((header, len)) = FrameHeader::parse(&mut cursor)? else {
                return Ok(0);
            };
            check_header(&header, len)?;
            let head = usize::try_from(cursor.position())
                .map_err(|_| ConnError::Protocol("a frame header too long"))?;
            let len = usize::try_from(len)
                .map_err(|_| ConnError::Protocol("a frame longer than the address space"))?;
            let total = head + len;
            if pending.len() < total {
                return Ok(total);
            }
            let payload = &pending[head..total];
            match header.opcode {
                OpCode::Data(Data::Text) | OpCode::Data(Data::Binary) => {
                    if self.fragment.is_some() {
                        return Err(ConnError::Protocol(
                            "a new message began inside a fragmented one",
                        ));
                    }
                    let text = header.opcode == OpCode::Data(Data::Text);
                    match (text, header.is_final) {
                        (true, true) => hand_out(sink, started, payload),
                        (true, false) => {
                            self.text.clear();
                            self.text.extend_from_slice(payload);
                            self.fragment = Some(Fragment::Text);
                        }
                        (false, is_final) => {
                            self.fragment = (!is_final).then_some(Fragment::Binary);
                        }
                    }
                }
                OpCode::Data(Data::Continue) => match self.fragment {
                    None => {
                        return Err(ConnError::Protocol(
                            "a continuation frame with no message to continue",
                        ));
                    }
                    Some(Fragment::Binary) => {
                        if header.is_final {
                            self.fragment = None;
                        }
                    }
                    Some(Fragment::Text) => {
                        if self.text.len() + payload.len() > MAX_MESSAGE {
                            return Err(ConnError::Protocol("a message larger than 16 MiB"));
                        }
                        self.text.extend_from_slice(payload);
                        if header.is_final {
                            self.fragment = None;
                            hand_out(sink, started, &self.text);
                        }
                    }
                },
                OpCode::Control(Control::Ping) => {
                    push_frame(&mut self.replies, OpCode::Control(Control::Pong), payload);
                }
                OpCode::Control(Control::Pong) => {}
                OpCode::Control(Control::Close) => {
                    // Echo the status code (the first two bytes), not the reason.
                    let code = payload.get(..2).unwrap_or(&[]);
                    push_frame(&mut self.replies, OpCode::Control(Control::Close), code);
                    self.close = close_description(payload);
                    self.closed = true;
                }
                OpCode::Data(Data::Reserved(_)) | OpCode::Control(Control::Reserved(_)) => {
                    // FrameHeader::parse refuses these already.
                    return Err(ConnError::Protocol("a frame with a reserved opcode"));
                }
            }
            self.buf.consume(total);
        }
        Ok(0)
    }

    /// Hands the queued control replies to the writing side and writes them.
    async fn send_replies(&mut self) -> Result<(), ConnError> {
        if self.replies.is_empty() {
            return Ok(());
        }
        let mut out = self.out.lock().await;
        out.bytes.extend_from_slice(&self.replies);
        self.replies.clear();
        out.flush().await
    }
}

/// Hands one text message to `sink`, opening the batch with the first.
fn hand_out(sink: &mut impl LineSink, started: &mut bool, text: &[u8]) {
    if !*started {
        *started = true;
        sink.batch_start();
    }
    sink.line(text);
}

/// Refuses what a server must never send (RFC 6455, 5.1-5.5); no extension is negotiated, so
/// the reserved bits must be clear. (`FrameHeader::parse` refuses reserved opcodes itself.)
fn check_header(header: &FrameHeader, len: u64) -> Result<(), ConnError> {
    if header.mask.is_some() {
        return Err(ConnError::Protocol("the server masked a frame"));
    }
    if header.rsv1 || header.rsv2 || header.rsv3 {
        return Err(ConnError::Protocol("a reserved bit is set"));
    }
    match header.opcode {
        OpCode::Control(_) if !header.is_final || len > MAX_CONTROL => Err(ConnError::Protocol(
            "a control frame fragmented or longer than 125 bytes",
        )),
        _ if len > MAX_MESSAGE as u64 => Err(ConnError::Protocol("a message larger than 16 MiB")),
        _ => Ok(()),
    }
}

/// Appends one final client frame (masked with a fresh key) carrying `payload` to `out`.
pub(crate) fn push_frame(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8]) {
    let mask = fastrand::u32(..).to_be_bytes();
    let header = FrameHeader {
        is_final: true,
        opcode,
        mask: Some(mask),
        ..FrameHeader::default()
    };
    let mut head = [0u8; 14];
    let mut cursor = Cursor::new(&mut head[..]);
    // A header is at most 14 bytes, so formatting into 14 cannot fail.
    let head_len = match header.format(payload.len() as u64, &mut cursor) {
        Ok(()) => usize::try_from(cursor.position()).unwrap_or(0),
        Err(_) => 0,
    };
    out.extend_from_slice(&head[..head_len]);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::tests::Batches;
    use crate::conn::{Reader, connect};
    use crate::target::Transport;
    use futures_util::StreamExt;
    use std::net::SocketAddr;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;

    /// A server frame (unmasked, final unless `fin` is false) with a short payload.
    fn frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let first = opcode | if fin { 0x80 } else { 0 };
        let mut frame = vec![first, u8::try_from(payload.len()).expect("a short payload")];
        frame.extend_from_slice(payload);
        frame
    }

    fn text_frame(text: &str) -> Vec<u8> {
        frame(0x1, true, text.as_bytes())
    }

    /// The close frame with status 1000.
    fn close_frame() -> Vec<u8> {
        frame(0x8, true, &[0x03, 0xe8])
    }

    /// A listener and the WebSocket URL that reaches it.
    async fn listen() -> (TcpListener, SocketAddr, Transport) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let transport = Transport::Ws {
            url: format!("ws://{addr}/"),
        };
        (listener, addr, transport)
    }

    /// Accepts one connection and does the server's side of the handshake with tungstenite.
    async fn accept(listener: &TcpListener) -> WebSocketStream<TcpStream> {
        let (socket, _) = listener.accept().await.unwrap();
        tokio_tungstenite::accept_async(socket).await.unwrap()
    }

    /// Reads batches until the server closes, or the read fails.
    async fn read_all(reader: &mut Reader, sink: &mut Batches) -> Result<(), ConnError> {
        for _ in 0..100 {
            if !reader.read_batch(sink).await? {
                return Ok(());
            }
        }
        panic!(
            "the server's close frame did not end the reads: {:?}",
            sink.batches
        );
    }

    /// What the client fails with when the server writes `bytes` after the handshake.
    async fn error_for(bytes: Vec<u8>) -> String {
        let (listener, addr, transport) = listen().await;
        let server = tokio::spawn(async move {
            let mut ws = accept(&listener).await;
            ws.get_mut().write_all(&bytes).await.unwrap();
            ws
        });
        let (mut reader, _writer) = connect(addr, &transport, 1024).await.unwrap();
        let mut sink = Batches::default();
        let err = read_all(&mut reader, &mut sink)
            .await
            .expect_err("the frame is refused");
        drop(server.await.unwrap());
        err.to_string()
    }

    #[tokio::test]
    async fn frames_read_together_are_one_batch_and_a_close_ends_it() {
        let (listener, addr, transport) = listen().await;
        let server = tokio::spawn(async move {
            let mut ws = accept(&listener).await;
            let raw = ws.get_mut();
            // Three frames in one write: the client reads them at once.
            let three = [text_frame("a"), text_frame("bb"), text_frame("ccc")].concat();
            raw.write_all(&three).await.unwrap();
            // Then a frame and the close frame in one write.
            raw.write_all(&[text_frame("d"), close_frame()].concat())
                .await
                .unwrap();
            // The client answers the close with a close of the same code.
            let reply = ws.next().await.expect("a reply").expect("a frame");
            let Message::Close(Some(close)) = reply else {
                panic!("not a close reply: {reply:?}");
            };
            assert_eq!(u16::from(close.code), 1000);
        });
        let (mut reader, _writer) = connect(addr, &transport, 1024).await.unwrap();
        let mut sink = Batches::default();
        read_all(&mut reader, &mut sink).await.unwrap();
        let lines: Vec<String> = sink.batches.concat();
        assert_eq!(lines, ["a", "bb", "ccc", "d"], "every line, in order");
        assert!(
            sink.batches.iter().any(|batch| batch.len() >= 3),
            "frames that arrived together are one batch: {:?}",
            sink.batches
        );
        assert!(!sink.open);
        assert_eq!(
            reader.close_reason(),
            Some("1000"),
            "the close is kept for the report"
        );
        server.await.unwrap();
        assert!(
            !reader.read_batch(&mut sink).await.unwrap(),
            "a closed connection stays closed"
        );
    }

    #[test]
    fn a_close_is_described_by_its_code_and_reason() {
        let mut payload = 1009u16.to_be_bytes().to_vec();
        payload.extend_from_slice(b"message too big");
        assert_eq!(
            close_description(&payload).as_deref(),
            Some("1009 message too big")
        );
        assert_eq!(close_description(&[0x03, 0xe8]).as_deref(), Some("1000"));
        assert_eq!(close_description(&[]), None, "a close without a status");
    }

    #[tokio::test]
    async fn sent_text_is_a_masked_frame_and_pings_get_pongs_while_waiting() {
        let (listener, addr, transport) = listen().await;
        let server = tokio::spawn(async move {
            let mut ws = accept(&listener).await;
            // tungstenite refuses unmasked client frames, so this checks the masking too.
            let command = ws.next().await.expect("a command").expect("a frame");
            assert_eq!(command, Message::text("msgall hello\n"));
            ws.get_mut()
                .write_all(&frame(0x9, true, b"are you there"))
                .await
                .unwrap();
            let pong = ws.next().await.expect("a pong").expect("a frame");
            assert_eq!(pong, Message::Pong(b"are you there".to_vec().into()));
            ws.get_mut()
                .write_all(&[text_frame("done"), close_frame()].concat())
                .await
                .unwrap();
        });
        let (mut reader, mut writer) = connect(addr, &transport, 1024).await.unwrap();
        writer.send(b"msgall hello\n").await.unwrap();
        let mut sink = Batches::default();
        read_all(&mut reader, &mut sink).await.unwrap();
        assert_eq!(sink.batches.concat(), ["done"]);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn fragments_join_into_one_line_and_large_frames_grow_the_buffer() {
        let (listener, addr, transport) = listen().await;
        let big = "y".repeat(3000);
        let sent = big.clone();
        let server = tokio::spawn(async move {
            let mut ws = accept(&listener).await;
            let raw = ws.get_mut();
            // A text message in three fragments with a ping between them (allowed), and a
            // binary message (ignored).
            let fragmented = [
                frame(0x1, false, b"abc"),
                frame(0x9, true, b""),
                frame(0x0, false, b"def"),
                frame(0x0, true, b"g"),
                frame(0x2, true, b"binary"),
            ]
            .concat();
            raw.write_all(&fragmented).await.unwrap();
            // A 3000-byte frame (16-bit length) in two writes, longer than the read buffer.
            let mut long = vec![0x81, 126];
            long.extend_from_slice(&3000u16.to_be_bytes());
            long.extend_from_slice(sent.as_bytes());
            raw.write_all(&long[..1500]).await.unwrap();
            raw.flush().await.unwrap();
            raw.write_all(&long[1500..]).await.unwrap();
            raw.write_all(&close_frame()).await.unwrap();
            // Drain the client's pong and close reply until it hangs up.
            while let Some(Ok(_)) = ws.next().await {}
        });
        let (mut reader, writer) = connect(addr, &transport, 1024).await.unwrap();
        let mut sink = Batches::default();
        read_all(&mut reader, &mut sink).await.unwrap();
        drop(reader);
        let lines = sink.batches.concat();
        assert_eq!(lines, ["abcdefg", big.as_str()]);
        drop(writer);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn frames_a_server_must_not_send_are_errors() {
        let masked = vec![0x81, 0x81, 1, 2, 3, 4, b'a' ^ 1];
        assert!(error_for(masked).await.contains("masked"));
        let reserved_bit = vec![0xc1, 0x01, b'a'];
        assert!(error_for(reserved_bit).await.contains("reserved bit"));
        let reserved_opcode = frame(0x3, true, b"a");
        let e = error_for(reserved_opcode).await;
        assert!(e.contains("invalid opcode"), "{e}");
        let fragmented_ping = frame(0x9, false, b"");
        assert!(error_for(fragmented_ping).await.contains("control frame"));
        let lonely_continuation = frame(0x0, true, b"a");
        assert!(
            error_for(lonely_continuation)
                .await
                .contains("continuation")
        );
        let interleaved = [frame(0x1, false, b"a"), frame(0x1, true, b"b")].concat();
        assert!(error_for(interleaved).await.contains("new message"));
        let mut huge = vec![0x81, 127];
        huge.extend_from_slice(&(MAX_MESSAGE as u64 + 1).to_be_bytes());
        assert!(error_for(huge).await.contains("16 MiB"));
    }

    /// A server that answers the handshake by hand: `answer` gets the client's accept key
    /// and returns the bytes to write.
    async fn hand_server(
        answer: impl FnOnce(String) -> Vec<u8> + Send + 'static,
    ) -> (SocketAddr, Transport) {
        let (listener, addr, transport) = listen().await;
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the client sent a whole request");
                request.extend_from_slice(&chunk[..n]);
            }
            let request = String::from_utf8(request).unwrap();
            let key = request
                .lines()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .expect("a key");
            socket
                .write_all(&answer(derive_accept_key(key.as_bytes())))
                .await
                .unwrap();
            // Keep the socket open until the client has read it all.
            let _ = socket.read(&mut chunk).await;
        });
        (addr, transport)
    }

    /// What the client fails with when the server answers its handshake with `answer`.
    async fn handshake_error(answer: impl FnOnce(String) -> Vec<u8> + Send + 'static) -> String {
        let (addr, transport) = hand_server(answer).await;
        match connect(addr, &transport, 1024).await {
            Ok(_) => panic!("the handshake was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[tokio::test]
    async fn a_greeting_in_the_same_segment_as_the_response_is_read() {
        let (addr, transport) = hand_server(|accept| {
            let mut bytes = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            )
            .into_bytes();
            bytes.extend_from_slice(&text_frame("[INFO] - hello"));
            bytes.extend_from_slice(&close_frame());
            bytes
        })
        .await;
        let (mut reader, _writer) = connect(addr, &transport, 1024).await.unwrap();
        let mut sink = Batches::default();
        read_all(&mut reader, &mut sink).await.unwrap();
        assert_eq!(sink.batches.concat(), ["[INFO] - hello"]);
    }

    #[tokio::test]
    async fn a_refused_or_wrong_handshake_is_an_error() {
        /// A 101 response with the given headers (`{accept}` is the right key).
        fn switching(headers: &str, accept: &str) -> Vec<u8> {
            let headers = headers.replace("{accept}", accept);
            format!("HTTP/1.1 101 Switching Protocols\r\n{headers}\r\n").into_bytes()
        }
        /// How the server answers, given the right accept key.
        type Answer = fn(String) -> Vec<u8>;
        let cases: [(Answer, &str); 4] = [
            (
                |_| b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n".to_vec(),
                "403",
            ),
            (
                |_| {
                    let wrong = "Sec-WebSocket-Accept: bm90IHRoZSBrZXk=\r\n";
                    switching(
                        &format!("Upgrade: websocket\r\nConnection: Upgrade\r\n{wrong}"),
                        "",
                    )
                },
                "Sec-WebSocket-Accept",
            ),
            (
                |accept| {
                    switching(
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n",
                        &accept,
                    )
                },
                "Upgrade: websocket",
            ),
            (
                |accept| {
                    switching(
                        "Upgrade: websocket\r\nSec-WebSocket-Accept: {accept}\r\n",
                        &accept,
                    )
                },
                "Connection: upgrade",
            ),
        ];
        for (answer, expected) in cases {
            let err = handshake_error(answer).await;
            assert!(err.contains(expected), "{err} (expected {expected})");
        }
        // The same headers with the right key are accepted (so the cases above fail for
        // the reason each names).
        let (addr, transport) = hand_server(|accept| {
            switching(
                "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\n",
                &accept,
            )
        })
        .await;
        assert!(connect(addr, &transport, 1024).await.is_ok());
    }

    #[tokio::test]
    async fn a_server_that_hangs_up_before_answering_is_an_error() {
        let (listener, addr, transport) = listen().await;
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut chunk = [0u8; 1024];
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the client sent its request");
        });
        let err = connect(addr, &transport, 1024)
            .await
            .err()
            .expect("no answer");
        assert!(err.to_string().contains("closed the connection"), "{err}");
        server.await.unwrap();
    }
}
