//! The text a sender puts after `msgall`: which run, which sender, which message, and when.
//!
//! Form: `b<run>:<sender>:<seq>:<sent_ns>:` followed by `x` padding up to the requested size,
//! all decimal ASCII, so the server keeps it byte for byte (no spaces to trim, no control
//! characters). `sent_ns` counts nanoseconds since an `Instant` shared by every client of the
//! run, so latency is one subtraction on the receiving side.

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

impl Payload {
    /// Appends the payload to `out`, padded with `x` so that it is at least `size` bytes long.
    ///
    /// A `size` smaller than the header gives just the header.
    pub fn encode_into(&self, size: usize, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(b'b');
        push_decimal(out, u64::from(self.run));
        out.push(b':');
        push_decimal(out, u64::from(self.sender));
        out.push(b':');
        push_decimal(out, u64::from(self.seq));
        out.push(b':');
        push_decimal(out, self.sent_ns);
        out.push(b':');
        let written = out.len() - start;
        if written < size {
            out.resize(start + size, PAD);
        }
    }

    /// Reads a payload back; `None` if `text` is not a bench payload.
    pub fn parse(text: &[u8]) -> Option<Payload> {
        let rest = text.strip_prefix(b"b")?;
        let (run, rest) = take_decimal(rest)?;
        let (sender, rest) = take_decimal(rest)?;
        let (seq, rest) = take_decimal(rest)?;
        let (sent_ns, rest) = take_decimal(rest)?;
        if !all_padding(rest) {
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

/// Appends `value` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        // `value % 10` is below 10, so the cast cannot truncate.
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Reads a decimal number terminated by `:`; returns it and what follows the `:`.
///
/// A plain loop: the numbers are a few digits long, too short for `memchr` to pay off.
fn take_decimal(text: &[u8]) -> Option<(u64, &[u8])> {
    let mut value: u64 = 0;
    for (i, &d) in text.iter().enumerate() {
        match d {
            b'0'..=b'9' if i < 20 => {
                value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            }
            b':' if i > 0 => return Some((value, &text[i + 1..])),
            _ => return None,
        }
    }
    None
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
        assert_eq!(out, b"b4000000000:17:99:123456789012:");
        assert_eq!(Payload::parse(&out), Some(sample()));
    }

    #[test]
    fn pads_to_the_requested_size_and_still_parses() {
        let mut out = b"msgall ".to_vec();
        sample().encode_into(100, &mut out);
        assert_eq!(out.len(), 7 + 100);
        assert!(out.ends_with(b"xxxx"));
        assert_eq!(out.iter().filter(|&&b| b == b'x').count(), 100 - 31);
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
        let p = Payload {
            run: 0,
            sender: 0,
            seq: u32::MAX,
            sent_ns: u64::MAX,
        };
        let mut out = Vec::new();
        p.encode_into(8, &mut out);
        assert_eq!(out, b"b0:0:4294967295:18446744073709551615:");
        assert_eq!(Payload::parse(&out), Some(p));
    }

    #[test]
    fn rejects_foreign_text() {
        for text in [
            &b"hello world"[..],
            b"",
            b"b",
            b"b1:2:3:",
            b"b1:2:3:4",
            b"b1:2:x:4:",
            b"b1:2:3:4:yy",
            b"b1:2:3:4: xx",
            b"b99999999999:2:3:4:",
            b"b1:2:3:99999999999999999999999:",
            b"B1:2:3:4:",
        ] {
            assert_eq!(
                Payload::parse(text),
                None,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }
}
