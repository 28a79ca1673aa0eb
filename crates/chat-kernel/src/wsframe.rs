//! A server's WebSocket text frame (RFC 6455 section 5.2), as the kernel queues it.
//!
//! A server frame is never masked, so a text frame is a two-to-ten-byte header and the payload
//! as it is, and the same bytes serve every recipient. The kernel therefore frames a reply for
//! WebSocket connections once, when it renders it ([`crate::packer::Rendered`]), and a
//! WebSocket writer hands its queue to the socket as it is, with no per-recipient framing.

/// FIN set, opcode 1 (text).
const TEXT: u8 = 0x81;

/// The size of the text frame that carries `len` bytes: the header (2, 4 or 10 bytes) and the
/// payload.
pub fn text_frame_len(len: usize) -> usize {
    let header = if len < 126 {
        2
    } else if len <= usize::from(u16::MAX) {
        4
    } else {
        10
    };
    header + len
}

/// Appends one unmasked text frame carrying `body` (which the caller guarantees is UTF-8).
pub fn encode_text(body: &[u8], out: &mut Vec<u8>) {
    let len = body.len();
    out.reserve(text_frame_len(len));
    out.push(TEXT);
    if let Ok(short) = u8::try_from(len)
        && short < 126
    {
        out.push(short);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_at_every_length_boundary() {
        // (payload length, header) as RFC 6455 section 5.2 spells them.
        let cases: [(usize, &[u8]); 6] = [
            (0, &[0x81, 0]),
            (125, &[0x81, 125]),
            (126, &[0x81, 126, 0, 126]),
            (65_535, &[0x81, 126, 0xff, 0xff]),
            (65_536, &[0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
            (70_000, &[0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]),
        ];
        for (len, header) in cases {
            let body = vec![b'x'; len];
            let mut out = Vec::new();
            encode_text(&body, &mut out);
            assert_eq!(&out[..header.len()], header, "length {len}");
            assert_eq!(&out[header.len()..], &body[..], "length {len}");
            assert_eq!(out.len(), text_frame_len(len), "length {len}");
        }
    }
}
