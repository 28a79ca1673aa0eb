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
    /// Its id (a [`Member`] is checked against it).
    pub id: ConnId,
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
    pub members: Vec<Member>,
}

impl Room {
    /// Whether the connection `id` is a member.
    pub fn has(&self, id: ConnId) -> bool {
        self.members.iter().any(|m| m.id == id)
    }
}

/// A connection as the login order and the rooms hold it: its id, and the slot of its record
/// in the [`ConnTable`], so a broadcast reaches each member without a hash lookup (the lookup
/// was about 27 of the 300 instructions a delivery cost, callgrind, *all send*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    /// The connection's id.
    pub id: ConnId,
    slot: u32,
}

/// The open connections: each record in a slot of its own, found by id through an index, or
/// straight from a [`Member`]. A freed slot is reused; a member found in a slot that now holds
/// another connection (which the registry's bookkeeping never leaves, but a mistake would)
/// finds nothing, as an id no longer open does.
#[derive(Debug, Default)]
pub(crate) struct ConnTable {
    /// Boxed: a slot is one pointer, and a connection's record stays where it is.
    slots: Vec<Option<Box<Conn>>>,
    /// Slots free for reuse.
    free: Vec<u32>,
    /// The slot of each open connection (ids are small integers: a fast hash, not SipHash).
    index: FxHashMap<ConnId, u32>,
}

impl ConnTable {
    /// Adds a connection's record (its id must not be open already).
    pub fn insert(&mut self, conn: Conn) {
        let id = conn.id;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(Box::new(conn));
                slot
            }
            None => {
                // More than 4 billion open connections cannot happen (each holds a socket).
                let slot = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                self.slots.push(Some(Box::new(conn)));
                slot
            }
        };
        self.index.insert(id, slot);
    }

    /// Takes a connection's record out.
    pub fn remove(&mut self, id: &ConnId) -> Option<Box<Conn>> {
        let slot = self.index.remove(id)?;
        let conn = self.slots.get_mut(slot as usize)?.take();
        self.free.push(slot);
        conn
    }

    /// The connection with this id, if open.
    pub fn get(&self, id: &ConnId) -> Option<&Conn> {
        let slot = *self.index.get(id)?;
        self.slots.get(slot as usize)?.as_deref()
    }

    /// The connection with this id, if open, to change.
    pub fn get_mut(&mut self, id: &ConnId) -> Option<&mut Conn> {
        let slot = *self.index.get(id)?;
        self.slots.get_mut(slot as usize)?.as_deref_mut()
    }

    /// Whether this id is open.
    pub fn contains_key(&self, id: &ConnId) -> bool {
        self.index.contains_key(id)
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The ids of the open connections, in no order.
    pub fn keys(&self) -> impl Iterator<Item = &ConnId> {
        self.index.keys()
    }

    /// The open connections' records, in no order.
    pub fn values(&self) -> impl Iterator<Item = &Conn> {
        self.slots.iter().filter_map(Option::as_deref)
    }

    /// The connection with this id as a room or the login order holds it, if open.
    pub fn member(&self, id: ConnId) -> Option<Member> {
        let slot = *self.index.get(&id)?;
        Some(Member { id, slot })
    }

    /// A member's connection, without the index: its slot, if it still holds that connection.
    #[inline]
    pub fn at(&self, member: &Member) -> Option<&Conn> {
        self.slots
            .get(member.slot as usize)?
            .as_deref()
            .filter(|conn| conn.id == member.id)
    }
}

/// Whom a reply goes to: a connection's id (found through the table's index) or a [`Member`]
/// (found in its slot).
pub(crate) trait Recipient {
    /// The recipient's connection, if it is open.
    fn find<'t>(&self, conns: &'t ConnTable) -> Option<&'t Conn>;
}

impl Recipient for ConnId {
    fn find<'t>(&self, conns: &'t ConnTable) -> Option<&'t Conn> {
        conns.get(self)
    }
}

impl Recipient for Member {
    #[inline]
    fn find<'t>(&self, conns: &'t ConnTable) -> Option<&'t Conn> {
        conns.at(self)
    }
}

/// Every connection, user and room.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Open connections. Their records are boxed: a hash table keeps up to twice as many slots
    /// as entries, and a slot holding a whole `Conn` (184 bytes) made it about 320 bytes per
    /// connection at 10,000 (bench, idle: boxed, 0.2 KiB less per connection).
    pub conns: ConnTable,
    /// Logged-in users by name key.
    pub users: HashMap<String, ConnId>,
    /// Logged-in connections, in login order.
    pub login_order: Vec<Member>,
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
                .filter_map(|m| self.conns.at(m)?.user.as_deref())
                .collect();
            out.push_str(&format!("  {} [{}]\n", room.name, names.join(", ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::outbox;

    fn conn(id: ConnId) -> Conn {
        Conn {
            id,
            server: Arc::from("tokio_chat"),
            peer: SocketAddr::from(([127, 0, 0, 1], 4000)),
            form: Format::Text,
            transport: Transport::Tcp,
            out: outbox(1024).0,
            user: None,
            rooms: Vec::new(),
            flood: None,
            busy: false,
            backlog: VecDeque::new(),
        }
    }

    #[test]
    fn connections_are_found_by_id_and_by_member() {
        let mut table = ConnTable::default();
        for id in 1..=3 {
            table.insert(conn(id));
        }
        assert_eq!(table.len(), 3);
        let member = table.member(2).expect("open");
        assert_eq!(member.id, 2);
        assert_eq!(table.at(&member).map(|c| c.id), Some(2));
        assert_eq!(table.get(&2).map(|c| c.id), Some(2));
        table.get_mut(&2).expect("open").form = Format::Json;
        assert_eq!(table.at(&member).map(|c| c.form), Some(Format::Json));
        let mut ids: Vec<ConnId> = table.keys().copied().collect();
        ids.sort_unstable();
        assert_eq!(ids, [1, 2, 3]);
        assert_eq!(table.values().count(), 3);
        assert!(table.member(4).is_none() && table.get(&4).is_none());
    }

    #[test]
    fn a_reused_slot_is_not_found_through_an_old_member() {
        let mut table = ConnTable::default();
        table.insert(conn(1));
        table.insert(conn(2));
        let old = table.member(1).expect("open");
        assert_eq!(table.remove(&1).map(|c| c.id), Some(1));
        assert!(!table.contains_key(&1) && table.get(&1).is_none());
        assert!(
            table.at(&old).is_none(),
            "a closed connection's member finds nothing"
        );
        assert!(table.remove(&1).is_none());
        // The next connection takes the freed slot; the old member still finds nothing.
        table.insert(conn(3));
        let new = table.member(3).expect("open");
        assert_eq!(new.slot, old.slot, "the slot was reused");
        assert!(table.at(&old).is_none());
        assert_eq!(table.at(&new).map(|c| c.id), Some(3));
        assert_eq!(table.get(&2).map(|c| c.id), Some(2));
        assert_eq!(table.len(), 2);
        assert_eq!(table.values().count(), 2);
    }
}
