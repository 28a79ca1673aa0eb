//! Who is who and who is where: connections, logged-in users, rooms.

use std::collections::{BTreeMap, HashMap, VecDeque};

use rustc_hash::FxHashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::flood::Bucket;
use crate::outbox::OutboxSender;
use crate::{Format, Transport};

/// A connection's id, unique for the life of the kernel.
pub type ConnId = u64;

/// One open connection.
#[derive(Debug)]
pub(crate) struct Conn {
    /// The server it came in through (`tokio_chat`, ...), for the console.
    pub server: Arc<str>,
    /// The client's address.
    pub peer: SocketAddr,
    /// Its output form.
    pub form: Format,
    /// Its transport, which decides how its output is framed.
    pub transport: Transport,
    /// Its outbound queue.
    pub out: OutboxSender,
    /// The name it is logged in under.
    pub user: Option<Arc<str>>,
    /// Keys of the rooms it is in, in join order.
    pub rooms: Vec<String>,
    /// Its flood bucket, unless the limit is off.
    pub flood: Option<Bucket>,
    /// A password check or registration is running: lines wait in `backlog`, in order.
    pub busy: bool,
    /// Input received while busy, answered in order once it is not.
    pub backlog: VecDeque<Pending>,
}

/// Input that arrived while a connection was busy.
#[derive(Debug)]
pub(crate) enum Pending {
    /// A cleaned line, to dispatch.
    Line(String),
    /// A framing error, to report in its place.
    Error(crate::reply::ErrorKind),
}

/// A room: its name as created and its members in join order.
#[derive(Debug)]
pub(crate) struct Room {
    /// The name as spelled when the room was created.
    pub name: Arc<str>,
    /// Members, in join order.
    pub members: Vec<ConnId>,
}

/// Every connection, user and room.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Open connections (ids are small integers: a fast hash, not SipHash, on the fan-out path).
    /// Boxed: the table keeps up to twice as many slots as entries, and a slot holding a whole
    /// `Conn` (184 bytes) made it about 320 bytes per connection at 10,000; boxed, a connection
    /// costs its `Conn` and a 16-byte slot (bench, idle: 0.2 KiB less per connection; *all send*
    /// and the dispatch benchmark unchanged within noise).
    pub conns: FxHashMap<ConnId, Box<Conn>>,
    /// Logged-in users by name key.
    pub users: HashMap<String, ConnId>,
    /// Logged-in connections, in login order.
    pub login_order: Vec<ConnId>,
    /// Rooms by key, sorted by name.
    pub rooms: BTreeMap<String, Room>,
}

impl Registry {
    /// A multi-line description of the registry, for the `debug` command.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "registry: {} connections, {} users, {} rooms\n",
            self.conns.len(),
            self.users.len(),
            self.rooms.len()
        );
        let mut ids: Vec<_> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(c) = self.conns.get(&id) {
                out.push_str(&format!(
                    "  #{id} {} via {} user={} form={} rooms=[{}] pending={}B\n",
                    c.peer,
                    c.server,
                    c.user.as_deref().unwrap_or("-"),
                    c.form.name(),
                    c.rooms.join(", "),
                    c.out.pending(),
                ));
            }
        }
        for room in self.rooms.values() {
            let names: Vec<&str> = room
                .members
                .iter()
                .filter_map(|id| self.conns.get(id)?.user.as_deref())
                .collect();
            out.push_str(&format!("  {} [{}]\n", room.name, names.join(", ")));
        }
        out
    }
}
