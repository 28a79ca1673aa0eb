//! A small IRC server over real TCP, for the bench's IRC mode: registration (with a `PING`
//! cookie to answer before the welcome, and no message of the day), `JOIN #bench` with its
//! names list, channel `PRIVMSG` relayed to every other member (not back to the sender, as IRC
//! servers do), a switch to refuse some messages, and one to `PING` every member mid-run and
//! hold its channel messages until it answers. `fake_irc.rs` tests the bench against it;
//! `fake_server.rs` runs it as the suite's InspIRCd.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const SERVER: &str = "fake.irc";

/// A channel member.
pub struct Member {
    lines: mpsc::UnboundedSender<String>,
    /// It was sent a mid-run `PING` and has not answered yet: its channel messages wait.
    owing: bool,
    held: Vec<String>,
}

#[derive(Default)]
pub struct Irc {
    /// Channel members by connection id.
    pub members: Mutex<HashMap<usize, Member>>,
    /// Nicks in use.
    pub nicks: Mutex<Vec<String>>,
    pub next_id: AtomicUsize,
    pub privmsgs: AtomicUsize,
    /// Every n-th channel message is refused with 404.
    pub refuse_every: Option<usize>,
    /// After the n-th channel message, every member is sent `PING :mid<id>`, and gets no more
    /// channel messages until it answers (as a server that would otherwise drop it).
    pub ping_after: Option<usize>,
    /// Mid-run pings answered.
    pub mid_pongs: AtomicUsize,
}

impl Irc {
    fn relay(&self, from_id: usize, from: &str, text: &str) {
        let line = format!(":{from}!{from}@127.0.0.1 PRIVMSG #bench :{text}");
        for (id, member) in self.members.lock().unwrap().iter_mut() {
            if *id == from_id {
                continue;
            }
            if member.owing {
                member.held.push(line.clone());
            } else {
                let _ = member.lines.send(line.clone());
            }
        }
    }

    fn ping_everyone(&self) {
        for (id, member) in self.members.lock().unwrap().iter_mut() {
            member.owing = true;
            let _ = member.lines.send(format!("PING :mid{id}"));
        }
    }

    fn ponged(&self, id: usize) {
        if let Some(member) = self.members.lock().unwrap().get_mut(&id)
            && member.owing
        {
            member.owing = false;
            for line in member.held.drain(..) {
                let _ = member.lines.send(line);
            }
            self.mid_pongs.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn serve(irc: Arc<Irc>, stream: TcpStream) {
    let id = irc.next_id.fetch_add(1, Ordering::Relaxed);
    let (r, mut w) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            let mut buf = format!("{line}\r\n");
            while let Ok(more) = rx.try_recv() {
                buf.push_str(&more);
                buf.push_str("\r\n");
            }
            if w.write_all(buf.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let cookie = format!("c{id}");
    let (mut nick, mut user, mut ponged) = (None::<String>, false, false);
    let mut welcomed = false;
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let (command, rest) = line.split_once(' ').unwrap_or((&line, ""));
        match command {
            "NICK" => {
                let mut nicks = irc.nicks.lock().unwrap();
                if nicks.iter().any(|n| n == rest) {
                    let _ = tx.send(format!(
                        ":{SERVER} 433 * {rest} :Nickname is already in use."
                    ));
                    continue;
                }
                nicks.push(rest.to_string());
                nick = Some(rest.to_string());
            }
            "USER" => {
                user = true;
                // A cookie to answer before the welcome, as some servers ask.
                let _ = tx.send(format!("PING :{cookie}"));
            }
            "PONG" if rest == format!(":{cookie}") => ponged = true,
            "PONG" if rest == format!(":mid{id}") => irc.ponged(id),
            "JOIN" if welcomed && rest == "#bench" => {
                let n = nick.clone().unwrap_or_default();
                let member = Member {
                    lines: tx.clone(),
                    owing: false,
                    held: Vec::new(),
                };
                irc.members.lock().unwrap().insert(id, member);
                let _ = tx.send(format!(":{n}!{n}@127.0.0.1 JOIN :#bench"));
                let _ = tx.send(format!(":{SERVER} 353 {n} = #bench :{n}"));
                let _ = tx.send(format!(":{SERVER} 366 {n} #bench :End of /NAMES list."));
            }
            "PRIVMSG" => {
                let n = nick.clone().unwrap_or_default();
                let Some(text) = rest.strip_prefix("#bench :") else {
                    continue;
                };
                let count = irc.privmsgs.fetch_add(1, Ordering::Relaxed) + 1;
                if irc
                    .refuse_every
                    .is_some_and(|every| count.is_multiple_of(every))
                {
                    let _ = tx.send(format!(":{SERVER} 404 {n} #bench :Cannot send to channel"));
                } else {
                    irc.relay(id, &n, text);
                }
                if irc.ping_after == Some(count) {
                    irc.ping_everyone();
                }
            }
            _ => {}
        }
        if !welcomed
            && user
            && ponged
            && let Some(n) = &nick
        {
            welcomed = true;
            let _ = tx.send(format!(
                ":{SERVER} 001 {n} :Welcome to the fake IRC network"
            ));
            let _ = tx.send(format!(":{SERVER} 422 {n} :MOTD File is missing"));
        }
    }
    irc.members.lock().unwrap().remove(&id);
    drop(tx);
    let _ = writer.await;
}

/// Starts the server on a fresh loopback port.
pub async fn start(irc: Irc) -> SocketAddr {
    start_shared(Arc::new(irc)).await
}

/// Starts the server on a state the test keeps a handle on.
pub async fn start_shared(irc: Arc<Irc>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_on(listener, irc));
    addr
}

/// Serves every connection `listener` accepts.
pub async fn serve_on(listener: TcpListener, irc: Arc<Irc>) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(irc.clone(), stream));
    }
}
