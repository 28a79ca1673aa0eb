//! The six servers, their default ports, and the groups `bind` starts (DESIGN.md).

use chat_kernel::Transport;

/// The async runtime a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// tokio (tokio-tungstenite for WebSocket).
    Tokio,
    /// async-std (async-tungstenite).
    AsyncStd,
    /// smol (async-tungstenite).
    Smol,
}

/// One of the six servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerDef {
    /// Its subcommand and console name.
    pub name: &'static str,
    /// Its runtime.
    pub runtime: Runtime,
    /// TCP lines or HTTP + WebSocket.
    pub transport: Transport,
    /// Its default port.
    pub port: u16,
}

/// The port `bind --base-port` is an offset from: `tokio_chat`'s default.
pub const BASE_PORT: u16 = 8000;

/// Every server, in the order of DESIGN.md's port table.
pub const SERVERS: [ServerDef; 6] = [
    ServerDef {
        name: "tokio_chat",
        runtime: Runtime::Tokio,
        transport: Transport::Tcp,
        port: 8000,
    },
    ServerDef {
        name: "async_std_chat",
        runtime: Runtime::AsyncStd,
        transport: Transport::Tcp,
        port: 8001,
    },
    ServerDef {
        name: "smol_chat",
        runtime: Runtime::Smol,
        transport: Transport::Tcp,
        port: 8002,
    },
    ServerDef {
        name: "tokio_ws_chat",
        runtime: Runtime::Tokio,
        transport: Transport::WebSocket,
        port: 8080,
    },
    ServerDef {
        name: "async_std_ws_chat",
        runtime: Runtime::AsyncStd,
        transport: Transport::WebSocket,
        port: 8081,
    },
    ServerDef {
        name: "smol_ws_chat",
        runtime: Runtime::Smol,
        transport: Transport::WebSocket,
        port: 8082,
    },
];

/// A server by name.
pub fn server(name: &str) -> Option<ServerDef> {
    SERVERS.into_iter().find(|s| s.name == name)
}

/// The groups of `bind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Group {
    /// tokio_chat + tokio_ws_chat
    #[value(name = "tokio")]
    Tokio,
    /// async_std_chat + async_std_ws_chat
    #[value(name = "async_std")]
    AsyncStd,
    /// smol_chat + smol_ws_chat
    #[value(name = "smol")]
    Smol,
    /// the three TCP servers
    #[value(name = "tcp_all")]
    TcpAll,
    /// the three WebSocket servers
    #[value(name = "ws_all")]
    WsAll,
    /// all six servers
    #[value(name = "all")]
    All,
}

impl Group {
    /// The servers of this group.
    pub fn servers(self) -> Vec<ServerDef> {
        SERVERS
            .into_iter()
            .filter(|s| match self {
                Group::Tokio => s.runtime == Runtime::Tokio,
                Group::AsyncStd => s.runtime == Runtime::AsyncStd,
                Group::Smol => s.runtime == Runtime::Smol,
                Group::TcpAll => s.transport == Transport::Tcp,
                Group::WsAll => s.transport == Transport::WebSocket,
                Group::All => true,
            })
            .collect()
    }
}

/// The port of `server` under `bind --base-port base`: the same offset from `base` as its
/// default port has from 8000. A base of 0 gives every server a free port. `None` when the
/// port would pass 65535.
pub fn port_from_base(server: &ServerDef, base: u16) -> Option<u16> {
    if base == 0 {
        return Some(0);
    }
    base.checked_add(server.port - BASE_PORT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups() {
        let names = |g: Group| g.servers().iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(names(Group::Tokio), ["tokio_chat", "tokio_ws_chat"]);
        assert_eq!(
            names(Group::AsyncStd),
            ["async_std_chat", "async_std_ws_chat"]
        );
        assert_eq!(names(Group::Smol), ["smol_chat", "smol_ws_chat"]);
        assert_eq!(
            names(Group::TcpAll),
            ["tokio_chat", "async_std_chat", "smol_chat"]
        );
        assert_eq!(names(Group::WsAll).len(), 3);
        assert_eq!(names(Group::All).len(), 6);
    }

    #[test]
    fn base_port_offsets() {
        let ws = server("async_std_ws_chat").unwrap();
        assert_eq!(port_from_base(&ws, 9000), Some(9081));
        assert_eq!(port_from_base(&ws, 0), Some(0));
        assert_eq!(port_from_base(&ws, 65500), None);
        assert_eq!(
            port_from_base(&server("tokio_chat").unwrap(), 9000),
            Some(9000)
        );
    }
}
