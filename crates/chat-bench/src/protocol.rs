//! Which chat protocol the bench speaks: ours, or IRC (to load a reference server such as
//! InspIRCd with the very same clients, payloads and clock).
//!
//! Everything else about a run (windows, rate, latency, counting, the server's CPU) is the
//! same for both: only logging in, the send command and the reading of a delivery differ.

use clap::ValueEnum;

use crate::irc;
use crate::line::{self, Reply};

/// The protocol of the target server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// async-chat's own (PROTOCOL.md): `login`, `msgall`, text output form.
    #[default]
    Chat,
    /// IRC (RFC 1459/2812): `NICK`/`USER`, `JOIN #bench`, `PRIVMSG #bench`.
    Irc,
}

impl Protocol {
    /// Its name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Chat => "chat",
            Protocol::Irc => "irc",
        }
    }

    /// What goes before a payload to send it to every client.
    pub fn send_prefix(self) -> &'static [u8] {
        match self {
            Protocol::Chat => b"msgall ",
            Protocol::Irc => irc::SEND_PREFIX,
        }
    }

    /// What ends a command line (IRC asks for CR LF; ours takes either).
    pub fn line_end(self) -> &'static [u8] {
        match self {
            Protocol::Chat => b"\n",
            Protocol::Irc => b"\r\n",
        }
    }

    /// Classifies one line the server sent (without its line end).
    pub fn classify(self, line: &[u8]) -> Reply<'_> {
        match self {
            Protocol::Chat => line::classify(line),
            Protocol::Irc => irc::classify(line),
        }
    }

    /// Whether a sender receives its own broadcasts (ours does; an IRC server does not send a
    /// channel message back to the client that sent it), which sets how many deliveries each
    /// message makes.
    pub fn echoes_sender(self) -> bool {
        self == Protocol::Chat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_protocol_sends_and_reads_its_own_lines() {
        assert_eq!(Protocol::Chat.send_prefix(), b"msgall ");
        assert_eq!(Protocol::Irc.send_prefix(), b"PRIVMSG #bench :");
        assert_eq!(Protocol::Irc.line_end(), b"\r\n");
        assert_eq!(
            Protocol::Chat.classify(b"[12:34:05][bench7]: x"),
            Reply::Chat {
                name: b"bench7",
                text: b"x"
            }
        );
        assert_eq!(
            Protocol::Irc.classify(b":bench7!bench7@127.0.0.1 PRIVMSG #bench :x"),
            Reply::Chat {
                name: b"bench7",
                text: b"x"
            }
        );
        // Each reads only its own form.
        assert_eq!(
            Protocol::Irc.classify(b"[12:34:05][bench7]: x"),
            Reply::Other
        );
        assert!(Protocol::Chat.echoes_sender() && !Protocol::Irc.echoes_sender());
    }
}
