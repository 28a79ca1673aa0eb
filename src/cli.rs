//! The command line (clap): one subcommand per server, `bind` for groups.

use std::net::IpAddr;
use std::time::Duration;

use chat_kernel::{FloodLimit, Limits, StoreSpec};
use clap::{Args, Parser, Subcommand};

use crate::servers::Group;

/// TCP and WebSocket chat servers on tokio, async-std and smol, around one chat kernel.
///
/// Connect with `telnet 127.0.0.1 8000` (or netcat), or open http://127.0.0.1:8080 in a browser.
#[derive(Debug, Parser)]
#[command(name = "async-chat", version, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// TCP chat server on tokio (default port 8000).
    #[command(name = "tokio_chat")]
    TokioChat(ServerArgs),
    /// TCP chat server on async-std (default port 8001).
    #[command(name = "async_std_chat")]
    AsyncStdChat(ServerArgs),
    /// TCP chat server on smol (default port 8002).
    #[command(name = "smol_chat")]
    SmolChat(ServerArgs),
    /// WebSocket chat server and web page on tokio (default port 8080).
    #[command(name = "tokio_ws_chat")]
    TokioWsChat(ServerArgs),
    /// WebSocket chat server and web page on async-std (default port 8081).
    #[command(name = "async_std_ws_chat")]
    AsyncStdWsChat(ServerArgs),
    /// WebSocket chat server and web page on smol (default port 8082).
    #[command(name = "smol_ws_chat")]
    SmolWsChat(ServerArgs),
    /// Run a group of servers in one process, on one shared chat (kernel and store).
    Bind(BindArgs),
    /// The terminal chat client (TCP, or WebSocket with a ws:// address).
    Client(chat_client::ClientArgs),
    /// The load generator: drive a running server, or `bench suite` to compare all six.
    Bench(Box<chat_bench::BenchArgs>),
}

impl Command {
    /// The server subcommand's name, if this is one.
    pub fn server_name(&self) -> Option<&'static str> {
        Some(match self {
            Command::TokioChat(_) => "tokio_chat",
            Command::AsyncStdChat(_) => "async_std_chat",
            Command::SmolChat(_) => "smol_chat",
            Command::TokioWsChat(_) => "tokio_ws_chat",
            Command::AsyncStdWsChat(_) => "async_std_ws_chat",
            Command::SmolWsChat(_) => "smol_ws_chat",
            Command::Bind(_) | Command::Client(_) | Command::Bench(_) => return None,
        })
    }
}

/// Options of a single server.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Port to listen on (0: any free port; the console says which). Default: the server's own.
    #[arg(long)]
    pub port: Option<u16>,
    /// Options shared by every server.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of `bind`.
#[derive(Debug, Args)]
pub struct BindArgs {
    /// Which servers: tokio, async_std, smol (that runtime's TCP + WebSocket server), tcp_all,
    /// ws_all, all.
    #[arg(value_enum)]
    pub group: Group,
    /// Put tokio_chat on this port and every other server at its usual offset from it
    /// (async_std_chat B+1, tokio_ws_chat B+80, ...). 0: every server on a free port.
    #[arg(long)]
    pub base_port: Option<u16>,
    /// Options shared by every server.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options shared by every server (PROTOCOL.md section 6 for the limits).
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// TCP clients start in the `text` form instead of `color`, and the console is not coloured.
    #[arg(long)]
    pub no_color: bool,
    /// Where accounts and history live: `memory` (nothing kept) or `sqlite:PATH`.
    #[arg(long, default_value = "sqlite:./chat-data/chat.db")]
    pub store: StoreSpec,
    /// Longest accepted line, in bytes.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_line: u32,
    /// Largest WebSocket message, in bytes (over it: close 1009).
    #[arg(long, default_value_t = 65536, value_parser = clap::value_parser!(u32).range(16..))]
    pub max_ws_message: u32,
    /// Pending output a connection may have before it is dropped as too slow, in bytes.
    #[arg(long, default_value_t = 1 << 20, value_parser = clap::value_parser!(u32).range(1024..))]
    pub send_queue: u32,
    /// Commands a connection may send at once before the flood rate applies.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub flood_burst: u32,
    /// Commands per second a connection may send after its burst.
    #[arg(long, default_value_t = 10.0, value_parser = positive_rate)]
    pub flood_rate: f64,
    /// Turn the flood limit off (load tests).
    #[arg(long)]
    pub no_flood_limit: bool,
    /// Connections per process, all servers together.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Seconds a WebSocket client may be silent before it is pinged (and as long again before it
    /// is dropped).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_idle: u32,
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!("`{s}` is not a positive number")),
    }
}

impl CommonArgs {
    /// The limits these options set.
    pub fn limits(&self) -> Limits {
        Limits {
            max_line: self.max_line as usize,
            max_ws_message: self.max_ws_message as usize,
            send_queue: self.send_queue as usize,
            flood: (!self.no_flood_limit).then_some(FloodLimit {
                burst: self.flood_burst,
                rate: self.flood_rate,
            }),
            max_connections: self.max_connections as usize,
            ws_idle: Duration::from_secs(u64::from(self.ws_idle)),
            ..Limits::default()
        }
    }
}
