//! The WebSocket frame fact the writer needs without tungstenite: whether bytes tungstenite
//! wrote hold a close frame (RFC 6455 section 5.2), after which no text frame may follow.
//!
//! The text frames themselves come framed from the kernel
//! ([`chat_kernel::wsframe`]): the writer hands its batch to the connection's
//! [`Wire`](crate::Wire) as it is, instead of handing tungstenite one message per recipient
//! (that per-frame path, a message, a UTF-8 check, a lock, a copy into tungstenite's buffer and
//! a copy out of it, was about a fifth of a WebSocket server's CPU when 100 clients all send).
//! The tests here check the kernel's frames against tungstenite's own.

/// The opcode of a close frame.
const CLOSE: u8 = 0x8;

/// Whether `frames`, one or more whole frames as tungstenite writes them, holds a close frame.
/// Bytes that end inside a header or payload end the walk (tungstenite never writes those: a
/// [`Wire`](crate::Wire) takes a write whole or not at all).
pub(crate) fn holds_close(mut frames: &[u8]) -> bool {
    while let [first, second, rest @ ..] = frames {
        if first & 0x0f == CLOSE {
            return true;
        }
        let masked = second & 0x80 != 0;
        let (len, rest) = match second & 0x7f {
            126 if rest.len() >= 2 => (
                u64::from(u16::from_be_bytes([rest[0], rest[1]])),
                &rest[2..],
            ),
            127 if rest.len() >= 8 => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&rest[..8]);
                (u64::from_be_bytes(be), &rest[8..])
            }
            126 | 127 => return false,
            n => (u64::from(n), rest),
        };
        let skip = usize::try_from(len)
            .ok()
            .and_then(|len| len.checked_add(if masked { 4 } else { 0 }));
        match skip {
            Some(skip) if skip <= rest.len() => frames = &rest[skip..],
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_kernel::wsframe::{encode_text, text_frame_len};
    use tungstenite::protocol::CloseFrame;
    use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
    use tungstenite::protocol::frame::{Frame, Utf8Bytes};

    /// What tungstenite itself writes for `frame`.
    fn tungstenite_bytes(frame: Frame) -> Vec<u8> {
        let mut out = Vec::new();
        frame.format(&mut out).expect("a vector takes it");
        out
    }

    #[test]
    fn text_frames_match_tungstenite_at_every_length_boundary() {
        for len in [0, 1, 125, 126, 127, 65_535, 65_536, 70_000] {
            let body = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let mut ours = Vec::new();
            encode_text(body.as_bytes(), &mut ours);
            assert_eq!(ours.len(), text_frame_len(body.len()), "length {len}");
            let theirs = tungstenite_bytes(Frame::message(
                body.clone().into_bytes(),
                OpCode::Data(Data::Text),
                true,
            ));
            assert_eq!(ours, theirs, "length {len}");
        }
    }

    #[test]
    fn finds_a_close_frame_after_other_frames() {
        let mut frames = tungstenite_bytes(Frame::pong(vec![1u8; 125]));
        assert!(!holds_close(&frames));
        encode_text(&[b'a'; 300], &mut frames);
        assert!(!holds_close(&frames));
        frames.extend(tungstenite_bytes(Frame::close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: Utf8Bytes::from_static("bye"),
        }))));
        assert!(holds_close(&frames));
        assert!(holds_close(&tungstenite_bytes(Frame::close(None))));
    }

    #[test]
    fn truncated_bytes_end_the_walk() {
        assert!(!holds_close(&[]));
        assert!(!holds_close(&[0x81]));
        assert!(!holds_close(&[0x81, 126, 0]));
        assert!(!holds_close(&[0x81, 127, 0, 0]));
        // A length past the bytes: what follows is payload, not a header.
        assert!(!holds_close(&[0x81, 5, 0x88, 0]));
        // A masked frame (a client's) skips its key too.
        assert!(holds_close(&[0x81, 0x81, 1, 2, 3, 4, b'x', 0x88, 0]));
    }
}
