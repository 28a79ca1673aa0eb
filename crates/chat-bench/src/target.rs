//! The server to load: transport, address, loopback check.

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::BenchError;

/// Longest wait for name resolution.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the bench talks to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP, one command per line.
    Tcp,
    /// WebSocket, one reply per text frame; `url` is the handshake URL.
    Ws {
        /// `ws://host:port/path`
        url: String,
    },
}

/// A parsed `--target`: `host:port`, `tcp://host:port` or `ws://host:port[/path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The target as given, for reports.
    pub spec: String,
    /// Host part (without brackets for IPv6).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Transport.
    pub transport: Transport,
}

impl Target {
    /// Parses a target specification.
    pub fn parse(spec: &str) -> Result<Target, BenchError> {
        let bad = |reason: &str| BenchError::Target {
            target: spec.to_string(),
            reason: reason.to_string(),
        };
        if spec.starts_with("wss://") {
            return Err(bad("TLS (wss://) is not supported; use ws://"));
        }
        let (ws, rest) = if let Some(rest) = spec.strip_prefix("ws://") {
            (true, rest)
        } else if let Some(rest) = spec.strip_prefix("tcp://") {
            (false, rest)
        } else if spec.contains("://") {
            return Err(bad(
                "unknown scheme; use host:port, tcp://host:port or ws://host:port",
            ));
        } else {
            (false, spec)
        };
        let (authority, path) = match rest.find('/') {
            Some(i) if ws => (&rest[..i], &rest[i..]),
            Some(_) => return Err(bad("a TCP target has no path")),
            None => (rest, "/"),
        };
        let (host, port) = split_host_port(authority).ok_or_else(|| bad("expected host:port"))?;
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| bad("invalid port"))?,
            None if ws => 80,
            None => return Err(bad("missing port")),
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        let transport = if ws {
            Transport::Ws {
                url: format!("ws://{authority}{path}"),
            }
        } else {
            Transport::Tcp
        };
        Ok(Target {
            spec: spec.to_string(),
            host: host.to_string(),
            port,
            transport,
        })
    }

    /// `"tcp"` or `"ws"`.
    pub fn transport_name(&self) -> &'static str {
        match self.transport {
            Transport::Tcp => "tcp",
            Transport::Ws { .. } => "ws",
        }
    }

    /// Resolves the host; refuses non-loopback addresses unless `allow_remote`.
    ///
    /// Returns the address every client connects to (IPv4 preferred, as the servers bind
    /// `127.0.0.1` by default).
    pub async fn resolve(&self, allow_remote: bool) -> Result<SocketAddr, BenchError> {
        let bad = |reason: String| BenchError::Target {
            target: self.spec.clone(),
            reason,
        };
        let lookup = tokio::net::lookup_host((self.host.as_str(), self.port));
        let addrs: Vec<SocketAddr> = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
            .await
            .map_err(|_| bad("name resolution timed out".into()))?
            .map_err(|e| bad(format!("cannot resolve: {e}")))?
            .collect();
        if !allow_remote && let Some(remote) = addrs.iter().find(|a| !a.ip().is_loopback()) {
            return Err(BenchError::RemoteTarget(format!(
                "{} ({remote})",
                self.spec
            )));
        }
        addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| addrs.first())
            .copied()
            .ok_or_else(|| BenchError::Target {
                target: self.spec.clone(),
                reason: "resolves to no address".to_string(),
            })
    }
}

/// Splits `host:port`, `[v6]:port`, `host` into host and optional port.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => None,
        Some((host, port)) => Some((host, Some(port))),
        None => Some((authority, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_targets() {
        let t = Target::parse("127.0.0.1:8000").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8000));
        assert_eq!(t.transport, Transport::Tcp);
        let t = Target::parse("tcp://localhost:8001").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("localhost", 8001));
        let t = Target::parse("[::1]:9").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9));
    }

    #[test]
    fn parses_ws_targets() {
        let t = Target::parse("ws://127.0.0.1:8080").unwrap();
        assert_eq!(t.port, 8080);
        assert_eq!(
            t.transport,
            Transport::Ws {
                url: "ws://127.0.0.1:8080/".into()
            }
        );
        let t = Target::parse("ws://localhost:8081/ws").unwrap();
        assert_eq!(
            t.transport,
            Transport::Ws {
                url: "ws://localhost:8081/ws".into()
            }
        );
        assert_eq!(Target::parse("ws://example.org").unwrap().port, 80);
    }

    #[test]
    fn rejects_bad_targets() {
        for spec in [
            "127.0.0.1",
            "wss://x:1",
            "http://x:1",
            "x:99999",
            ":80",
            "tcp://x:1/path",
            "::1:80",
        ] {
            assert!(Target::parse(spec).is_err(), "{spec}");
        }
    }

    #[tokio::test]
    async fn loopback_is_allowed_and_remote_is_refused() {
        let t = Target::parse("127.0.0.1:8000").unwrap();
        assert_eq!(
            t.resolve(false).await.unwrap(),
            "127.0.0.1:8000".parse().unwrap()
        );
        let remote = Target::parse("192.0.2.1:8000").unwrap();
        assert!(matches!(
            remote.resolve(false).await,
            Err(BenchError::RemoteTarget(_))
        ));
        assert_eq!(
            remote.resolve(true).await.unwrap(),
            "192.0.2.1:8000".parse().unwrap()
        );
    }
}
