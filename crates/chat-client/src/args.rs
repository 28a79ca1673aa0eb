//! Command-line arguments of `async-chat client` and the server address they name.

use crate::error::ClientError;

/// Arguments of `async-chat client`.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// Server: `HOST:PORT` for TCP, or a `ws://HOST:PORT[/PATH]` URL for WebSocket.
    #[arg(value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub addr: String,
    /// Log in under this name at start (otherwise the client asks for it).
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Password of a registered account (without it, a name given with --name logs in as guest).
    #[arg(long, short = 'p', env = "ASYNC_CHAT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Register the account (--name, --password) before logging in; an existing account is fine.
    #[arg(long, requires_all = ["name", "password"])]
    pub register: bool,
    /// Join these rooms after logging in (repeatable: `--join '#rust' --join go`; the `#`,
    /// which a shell takes for a comment unquoted, may be left out).
    #[arg(long, value_name = "#ROOM", value_parser = room_arg)]
    pub join: Vec<String>,
    /// Longest wait between two reconnection attempts, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub max_backoff: u64,
}

/// A `--join` value as a room name: `#` added when left out.
fn room_arg(room: &str) -> Result<String, String> {
    Ok(if room.starts_with('#') {
        room.to_owned()
    } else {
        format!("#{room}")
    })
}

/// Where the client connects, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP line server at `host:port`.
    Tcp(String),
    /// A WebSocket server at this `ws://` URL.
    WebSocket(String),
}

impl Endpoint {
    /// Reads an address: a `ws://` URL is a WebSocket endpoint, anything else must be
    /// `host:port` (an optional `tcp://` prefix is accepted). `wss://` is refused: the client
    /// has no TLS.
    pub fn parse(addr: &str) -> Result<Self, ClientError> {
        let invalid = |reason| ClientError::InvalidAddress {
            addr: addr.to_owned(),
            reason,
        };
        let lower = addr.to_ascii_lowercase();
        if lower.starts_with("wss://") {
            return Err(invalid("wss:// (TLS) is not supported; use ws://"));
        }
        if lower.starts_with("ws://") {
            let rest = addr.split_once("://").map_or("", |(_, rest)| rest);
            if rest.is_empty() || rest.starts_with('/') {
                return Err(invalid("the URL has no host"));
            }
            return Ok(Endpoint::WebSocket(addr.to_owned()));
        }
        if lower.contains("://") && !lower.starts_with("tcp://") {
            return Err(invalid(
                "only ws:// and tcp:// (or plain HOST:PORT) are supported",
            ));
        }
        let hostport = if lower.starts_with("tcp://") {
            &addr["tcp://".len()..]
        } else {
            addr
        };
        let Some((host, port)) = hostport.rsplit_once(':') else {
            return Err(invalid("expected HOST:PORT"));
        };
        if host.is_empty() {
            return Err(invalid("the host is empty"));
        }
        if port.parse::<u16>().is_err() {
            return Err(invalid("the port is not a number from 0 to 65535"));
        }
        Ok(Endpoint::Tcp(hostport.to_owned()))
    }

    /// The address as shown on the status line.
    pub fn display(&self) -> &str {
        match self {
            Endpoint::Tcp(addr) | Endpoint::WebSocket(addr) => addr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_is_tcp() {
        assert_eq!(
            Endpoint::parse("127.0.0.1:8000").unwrap(),
            Endpoint::Tcp("127.0.0.1:8000".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://localhost:9").unwrap(),
            Endpoint::Tcp("localhost:9".into())
        );
        assert_eq!(
            Endpoint::parse("[::1]:8000").unwrap(),
            Endpoint::Tcp("[::1]:8000".into())
        );
    }

    #[test]
    fn ws_urls_are_websocket() {
        assert_eq!(
            Endpoint::parse("ws://127.0.0.1:8080").unwrap(),
            Endpoint::WebSocket("ws://127.0.0.1:8080".into())
        );
        assert_eq!(
            Endpoint::parse("WS://example.org/ws").unwrap(),
            Endpoint::WebSocket("WS://example.org/ws".into())
        );
    }

    #[test]
    fn bad_addresses_are_errors() {
        for bad in [
            "localhost",
            ":8000",
            "host:port",
            "host:70000",
            "http://x:1",
            "ws://",
            "wss://h:1",
        ] {
            assert!(
                matches!(
                    Endpoint::parse(bad),
                    Err(ClientError::InvalidAddress { .. })
                ),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn clap_defaults() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: ClientArgs,
        }
        let cli = Cli::try_parse_from(["client"]).unwrap();
        assert_eq!(cli.args.addr, "127.0.0.1:8000");
        assert_eq!(cli.args.name, None);
        let cli =
            Cli::try_parse_from(["client", "ws://h:1", "--name", "alice", "--join", "#a"]).unwrap();
        assert_eq!(cli.args.addr, "ws://h:1");
        assert_eq!(cli.args.name.as_deref(), Some("alice"));
        assert_eq!(cli.args.join, vec!["#a".to_string()]);
        let cli = Cli::try_parse_from(["client", "--join", "rust", "--join", "#go"]).unwrap();
        assert_eq!(cli.args.join, ["#rust", "#go"], "the # may be left out");
        assert!(Cli::try_parse_from(["client", "--register", "--name", "a"]).is_err());
    }
}
