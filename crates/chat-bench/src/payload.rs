//! The text a sender puts after `msgall`: which run, which sender, which message, and when.
//!
//! Form: `b<run>:<sender>:<seq>:<sent_ns>:` followed by `x` padding up to the requested size.
//! The numbers are lowercase hexadecimal of a fixed width (8, 8, 8 and 16 digits), so the header
//! is always [`HEADER_LEN`] bytes and every field sits at a known offset: the receiving side,
//! which reads one payload per delivery, checks it without a loop whose length varies (decimal
//! fields of varying length were 15-20% of the load generator's CPU in a profile, most likely
//! the mispredicted end of each field). All ASCII with no spaces or control characters, so the
//! server keeps it byte for byte. `sent_ns` counts nanoseconds since an `Instant` shared by
//! every client of the run, so latency is one subtraction on the receiving side.

/// What one bench message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    /// Identifies the bench run, so messages of other users or other runs are not counted.
    pub run: u32,
    /// Index of the sending client.
    pub sender: u32,
    /// Sequence number of the message for this sender, from 0.
    pub seq: u32,
    /// When it was sent, in nanoseconds since the run's shared base instant.
    pub sent_ns: u64,
}

/// The padding byte.
const PAD: u8 = b'x';

/// Where each field starts, and its width in hexadecimal digits: after the `b`, each field is
/// followed by a `:`.
const RUN: (usize, usize) = (1, 8);
const SENDER: (usize, usize) = (RUN.0 + RUN.1 + 1, 8);
const SEQ: (usize, usize) = (SENDER.0 + SENDER.1 + 1, 8);
const SENT: (usize, usize) = (SEQ.0 + SEQ.1 + 1, 16);

/// The length of a payload's header: `b`, four fixed-width hexadecimal fields, each followed
/// by `:`.
pub const HEADER_LEN: usize = SENT.0 + SENT.1 + 1;

impl Payload {
    /// Appends the payload to `out`, padded with `x` so that it is at least `size` bytes long.
    ///
    /// A `size` smaller than the header gives just the header.
    pub fn encode_into(&self, size: usize, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(b'b');
        push_hex(out, u64::from(self.run), RUN.1);
        out.push(b':');
        push_hex(out, u64::from(self.sender), SENDER.1);
        out.push(b':');
        push_hex(out, u64::from(self.seq), SEQ.1);
        out.push(b':');
        push_hex(out, self.sent_ns, SENT.1);
        out.push(b':');
        if HEADER_LEN < size {
            out.resize(start + size, PAD);
        }
    }

    /// Reads a payload back; `None` if `text` is not a bench payload.
    pub fn parse(text: &[u8]) -> Option<Payload> {
        let (header, rest) = text.split_first_chunk::<HEADER_LEN>()?;
        let marks = header[0] == b'b'
            && header[RUN.0 + RUN.1] == b':'
            && header[SENDER.0 + SENDER.1] == b':'
            && header[SEQ.0 + SEQ.1] == b':'
            && header[SENT.0 + SENT.1] == b':';
        if !marks {
            return None;
        }
        // Every field is decoded before one check of them all: no branch per digit.
        let (run, ok_run) = hex8(chunk8(header, RUN.0)?);
        let (sender, ok_sender) = hex8(chunk8(header, SENDER.0)?);
        let (seq, ok_seq) = hex8(chunk8(header, SEQ.0)?);
        let (sent_high, ok_high) = hex8(chunk8(header, SENT.0)?);
        let (sent_low, ok_low) = hex8(chunk8(header, SENT.0 + 8)?);
        let sent_ns = sent_high << 32 | sent_low;
        if !(ok_run & ok_sender & ok_seq & ok_high & ok_low) || !all_padding(rest) {
            return None;
        }
        Some(Payload {
            run: u32::try_from(run).ok()?,
            sender: u32::try_from(sender).ok()?,
            seq: u32::try_from(seq).ok()?,
            sent_ns,
        })
    }
}

/// A run of padding to compare against (slice equality is a vectorised `memcmp`, a byte loop
/// is not, and this check runs once per delivery).
static PADDING: [u8; 256] = [PAD; 256];

/// Whether `rest` is padding only.
fn all_padding(mut rest: &[u8]) -> bool {
    while !rest.is_empty() {
        let n = rest.len().min(PADDING.len());
        if rest[..n] != PADDING[..n] {
            return false;
        }
        rest = &rest[n..];
    }
    true
}

/// Appends the low `width` hexadecimal digits of `value`, lowercase, zero-padded.
fn push_hex(out: &mut Vec<u8>, value: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for i in (0..width).rev() {
        // A nibble is below 16, so the index is in range and the cast cannot truncate.
        out.push(DIGITS[((value >> (i * 4)) & 0xf) as usize]);
    }
}

/// The 8 bytes at `at` in the header (the lengths are constants, so this cannot fail; the
/// check compiles away).
#[inline(always)]
fn chunk8(header: &[u8; HEADER_LEN], at: usize) -> Option<&[u8; 8]> {
    header.get(at..at + 8)?.try_into().ok()
}

/// Decodes 8 lowercase hexadecimal digits at once, eight bytes in one `u64` (SWAR): no branch
/// and no table per digit.
#[inline(always)]
fn hex8(digits: &[u8; 8]) -> (u64, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_le_bytes(*digits);
    // A byte `c` below 0x80 plus `0x80 - lo` has its top bit set exactly when `c >= lo`, and no
    // sum carries into the next byte; so `c` is in `lo..hi` when the first sum has the top bit
    // and the second does not. (A byte of 0x80 or more fails `ascii`; its sums may carry, so
    // they wrap, and what they say is not used.)
    let in_range =
        |lo: u64, hi: u64| x.wrapping_add((0x80 - lo) * ONES) & !x.wrapping_add((0x80 - hi) * ONES);
    let ascii = x & HIGH == 0;
    let valid = (in_range(0x30, 0x3a) | in_range(0x61, 0x67)) & HIGH == HIGH;
    // '0'..='9' are 0x30..=0x39 and 'a'..='f' 0x61..=0x66: the low nibble, plus 9 for a letter
    // (bit 6 set).
    let nibbles = (x & (0x0f * ONES)) + ((x >> 6) & ONES) * 9;
    // The first digit is the most significant: reverse the bytes, then fold the nibbles of
    // neighbouring bytes together, pairs, then quads, then the two halves.
    let n = nibbles.swap_bytes();
    let n = (n | n >> 4) & 0x00ff_00ff_00ff_00ff;
    let n = (n | n >> 8) & 0x0000_ffff_0000_ffff;
    let n = (n | n >> 16) & 0xffff_ffff;
    (n, ascii & valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Payload {
        Payload {
            run: 4_000_000_000,
            sender: 17,
            seq: 99,
            sent_ns: 123_456_789_012,
        }
    }

    #[test]
    fn round_trips_without_padding() {
        let mut out = Vec::new();
        sample().encode_into(0, &mut out);
        assert_eq!(out, b"bee6b2800:00000011:00000063:0000001cbe991a14:");
        assert_eq!(out.len(), HEADER_LEN);
        assert_eq!(Payload::parse(&out), Some(sample()));
    }

    #[test]
    fn pads_to_the_requested_size_and_still_parses() {
        let mut out = b"msgall ".to_vec();
        sample().encode_into(100, &mut out);
        assert_eq!(out.len(), 7 + 100);
        assert!(out.ends_with(b"xxxx"));
        assert_eq!(out.iter().filter(|&&b| b == b'x').count(), 100 - HEADER_LEN);
        assert_eq!(Payload::parse(&out[7..]), Some(sample()));
    }

    #[test]
    fn long_padding_is_checked_to_the_end() {
        let mut out = Vec::new();
        sample().encode_into(1000, &mut out);
        assert_eq!(Payload::parse(&out), Some(sample()));
        *out.last_mut().unwrap() = b'y';
        assert_eq!(Payload::parse(&out), None);
    }

    #[test]
    fn encodes_zero_and_max_values() {
        for p in [
            Payload {
                run: 0,
                sender: 0,
                seq: 0,
                sent_ns: 0,
            },
            Payload {
                run: u32::MAX,
                sender: u32::MAX,
                seq: u32::MAX,
                sent_ns: u64::MAX,
            },
        ] {
            let mut out = Vec::new();
            p.encode_into(8, &mut out);
            assert_eq!(
                out.len(),
                HEADER_LEN,
                "a size below the header gives the header"
            );
            assert_eq!(Payload::parse(&out), Some(p));
        }
        let mut out = Vec::new();
        Payload {
            run: u32::MAX,
            sender: 0,
            seq: 1,
            sent_ns: u64::MAX,
        }
        .encode_into(0, &mut out);
        assert_eq!(out, b"bffffffff:00000000:00000001:ffffffffffffffff:");
    }

    #[test]
    fn every_hex_digit_decodes_in_every_position() {
        let digits = b"0123456789abcdef";
        for pos in 0..8 {
            for (value, &c) in digits.iter().enumerate() {
                let mut field = *b"00000000";
                field[pos] = c;
                let expected = (value as u64) << (4 * (7 - pos));
                assert_eq!(hex8(&field), (expected, true), "{}", field.escape_ascii());
            }
        }
        assert_eq!(hex8(b"fedcba98"), (0xfedc_ba98, true));
        assert_eq!(hex8(b"01234567"), (0x0123_4567, true));
    }

    #[test]
    fn rejects_foreign_text() {
        let good = b"b00000001:00000002:00000003:0000000000000004:".to_vec();
        assert!(Payload::parse(&good).is_some());
        let mut texts: Vec<Vec<u8>> = [
            &b"hello world"[..],
            b"",
            b"b",
            b"b1:2:3:4:",
            b"b00000001:00000002:00000003:0000000000000004",
            b"b00000001:00000002:00000003:0000000000000004:yy",
            b"b00000001:00000002:00000003:0000000000000004: xx",
            b"B00000001:00000002:00000003:0000000000000004:",
            b"b00000001:00000002:00000003:000000000000004::",
            b"b00000001:0000002::00000003:0000000000000004:",
            b"b00000001:00000002:00000003:00000000000000041",
        ]
        .iter()
        .map(|t| t.to_vec())
        .collect();
        // Every byte that is not a lowercase hex digit, in every digit position.
        for pos in (1..HEADER_LEN - 1).filter(|&i| good[i] != b':') {
            for bad in [
                b'g', b'A', b'F', b'/', b':', b'`', b'@', b' ', b'x', 0x80, 0xb0, 0xe1, 0xff,
            ] {
                let mut text = good.clone();
                text[pos] = bad;
                texts.push(text);
            }
        }
        for text in texts {
            assert_eq!(
                Payload::parse(&text),
                None,
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}
