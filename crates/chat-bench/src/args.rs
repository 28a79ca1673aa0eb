//! Command-line options of `async-chat bench` and `async-chat bench suite`.

use std::path::PathBuf;

use crate::protocol::Protocol;

/// `async-chat bench`: load a running chat server, or `bench suite` to compare all six.
#[derive(clap::Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// `suite`: start every server and compare them.
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    /// Options of a single run against a running server.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// Subcommands of `bench`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum BenchCommand {
    /// Start each of the six servers, run the same workloads against each, print a table,
    /// write bench-results.json and draw readme_img/bench.svg.
    Suite(Box<SuiteArgs>),
    /// Run the floor server: the least a chat server can do (one thread, one epoll, one write
    /// per client per round), to measure what the deliveries alone cost on this machine.
    Floor(crate::floor::FloorArgs),
}

/// One run against a running server.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// Server to load: `host:port` or `tcp://host:port` (TCP), `ws://host:port[/path]` (WebSocket).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub target: String,
    /// Number of clients that connect and log in (at most 100,000).
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// How many of the clients send (the first S); default: all of them.
    #[arg(long)]
    pub senders: Option<usize>,
    /// Messages each sender sends (`msgall`).
    #[arg(long, default_value_t = 100)]
    pub messages: u32,
    /// Total send rate over all senders, messages per second (0.001 to 10^9); 0 = as fast as
    /// the window allows.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Messages each sender keeps in flight (a message is in flight until some other client
    /// received it); 0 = no limit.
    #[arg(long, default_value_t = 1)]
    pub window: u32,
    /// Size of each message text in bytes (at least the 45-byte header it carries, at most
    /// 1 MiB).
    #[arg(long, default_value_t = 64)]
    pub payload_size: usize,
    /// Every run ends after this many seconds, finished or not (connecting included; at most a
    /// day), and sooner once every client has lost its connection.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// A sending run ends after this many seconds in which nothing was sent, received, refused
    /// or disconnected (a server that swallows messages, or holds them), and reports what is
    /// missing as lost; 0 = wait out --timeout. With --rate, the time between two messages is
    /// added.
    #[arg(long, value_name = "SECS", default_value_t = crate::load::DEFAULT_STALL_S)]
    pub stall: u64,
    /// Print the report as one JSON line.
    #[arg(long)]
    pub json: bool,
    /// Process id of the server: report its CPU time, CPU per delivery and memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Instead of sending: hold K connections and report server memory per connection
    /// (needs --server-pid for the memory figures). The options of a sending run are refused
    /// with it, rather than ignored.
    #[arg(
        long,
        value_name = "K",
        conflicts_with_all = ["clients", "senders", "messages", "rate", "window", "payload_size", "stall"]
    )]
    pub idle: Option<usize>,
    /// With --idle: do not log the connections in.
    #[arg(long, requires = "idle")]
    pub anonymous: bool,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Clients log in as this prefix followed by their index (bench0, bench1, ...).
    #[arg(long, default_value = "bench")]
    pub name_prefix: String,
    /// At most this many clients connect and log in at the same time.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// The target's protocol: `chat` (ours) or `irc` (an IRC server such as InspIRCd: the
    /// clients join #bench and send PRIVMSG; TCP load runs only).
    #[arg(long, value_enum, default_value_t = Protocol::Chat)]
    pub protocol: Protocol,
}

impl Default for LoadArgs {
    fn default() -> Self {
        LoadArgs {
            target: "127.0.0.1:8000".into(),
            clients: 100,
            senders: None,
            messages: 100,
            rate: 0.0,
            window: 1,
            payload_size: 64,
            timeout: 60,
            stall: crate::load::DEFAULT_STALL_S,
            json: false,
            server_pid: None,
            idle: None,
            anonymous: false,
            allow_remote: false,
            name_prefix: "bench".into(),
            connect_concurrency: 256,
            protocol: Protocol::Chat,
        }
    }
}

/// `bench suite`: the runtime comparison.
#[derive(clap::Args, Debug, Clone)]
pub struct SuiteArgs {
    /// Small counts, for a quick look (well under a minute).
    #[arg(long)]
    pub quick: bool,
    /// Servers to compare (comma-separated subcommand names); default: all six.
    #[arg(long, value_delimiter = ',')]
    pub servers: Vec<String>,
    /// Leave out the floor: by default every round also runs `bench floor` (the least a chat
    /// server can do) through the sending workloads, as a reference row measured in the same
    /// minutes as the servers.
    #[arg(long)]
    pub no_floor: bool,
    /// Also run InspIRCd 3 (the C++ IRC server the targets quote; Debian's `inspircd`) as a
    /// reference row through the sending workloads, over IRC, in every round: BIN, or
    /// `inspircd` from PATH without one. Its limits are lifted as the servers' are
    /// (crates/chat-bench/inspircd-bench.conf).
    #[arg(long, value_name = "BIN", num_args = 0..=1, default_missing_value = "inspircd")]
    pub inspircd: Option<PathBuf>,
    /// Workload "all send": number of clients, every one a sender [100; quick 50].
    #[arg(long)]
    pub all_clients: Option<usize>,
    /// Workload "all send": messages per sender [100; quick 50].
    #[arg(long)]
    pub all_messages: Option<u32>,
    /// Workload "fan-out": number of clients [1000; quick 200].
    #[arg(long)]
    pub fanout_clients: Option<usize>,
    /// Workload "fan-out": number of senders [10; quick 5].
    #[arg(long)]
    pub fanout_senders: Option<usize>,
    /// Workload "fan-out": messages per sender [100; quick 50].
    #[arg(long)]
    pub fanout_messages: Option<u32>,
    /// Workload "idle": logged-in connections held to measure memory [10000; quick 1000]; 0 skips it.
    #[arg(long)]
    pub idle_connections: Option<usize>,
    /// Window of both sending workloads.
    #[arg(long, default_value_t = 1)]
    pub window: u32,
    /// Payload size of both sending workloads.
    #[arg(long, default_value_t = 64)]
    pub payload_size: usize,
    /// Timeout of each workload run, seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Runs of every workload on every server, in rounds (each round runs every server once,
    /// so a slow minute on the machine touches them all); the table shows each one's median run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: u32,
    /// Where to write the results.
    #[arg(long, default_value = "bench-results.json")]
    pub results: PathBuf,
    /// Where to draw the chart (SVG).
    #[arg(long, default_value = "readme_img/bench.svg")]
    pub chart: PathBuf,
    /// The `async-chat` binary to start servers from; default: this executable.
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
}
