//! What one client connection does: log in, then send and receive (load runs) or just hold the
//! connection open and drain it (idle runs).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::conn::{self, LineSink, Reader, Writer};
use crate::irc;
use crate::line::{Reply, classify, shorten, strip_ansi};
use crate::load::MAX_TIMEOUT;
use crate::payload::Payload;
use crate::protocol::Protocol;
use crate::shared::{ClientConfig, LoadShared, Login, Phase};

/// Most messages a sender packs into one write when its window and rate allow.
const MAX_BATCH: u32 = 64;

/// What one client of a load run saw.
#[derive(Debug, Default, Clone)]
pub struct ClientStats {
    /// Whether it logged in.
    pub ready: bool,
    /// Messages it sent.
    pub sent: u64,
    /// Bench deliveries it received (first copies only).
    pub received: u64,
    /// Deliveries received a second time.
    pub duplicates: u64,
    /// `[ERROR] - ...` replies, by text.
    pub errors: BTreeMap<String, u64>,
    /// Why the server side closed the connection during the run, if it did.
    pub disconnected: Option<String>,
    /// When it received its last delivery.
    pub last_delivery: Option<Instant>,
}

/// Waits for the greeting, switches to text form, logs in (if `name`), waits for the answer.
struct LoginSink {
    /// The line that means success.
    expect: Vec<u8>,
    greeted: bool,
    done: bool,
    error: Option<String>,
}

/// How our servers' greeting begins.
const GREETING_PREFIX: &[u8] = b"[SERVER INFO] - ";

impl LineSink for LoginSink {
    fn line(&mut self, line: &[u8]) {
        if self.done || self.error.is_some() {
            return;
        }
        let text: Cow<'_, [u8]> = if line.contains(&0x1b) {
            Cow::Owned(strip_ansi(&String::from_utf8_lossy(line)).into_bytes())
        } else {
            Cow::Borrowed(line)
        };
        let reply = classify(&text);
        if let Reply::Error(e) = reply {
            self.error = Some(String::from_utf8_lossy(e).into_owned());
        } else if !self.greeted {
            // Our servers greet with a `[SERVER INFO]` line; anything else (an IRC server's
            // `:irc.local NOTICE ...`) is another protocol, not worth waiting out the timeout.
            if !text.starts_with(GREETING_PREFIX) {
                self.error = Some(format!(
                    "not an async-chat server: it first sent {:?}",
                    shorten(&text)
                ));
            }
            self.greeted = true;
        } else if *text == *self.expect {
            self.done = true;
        }
    }
}

/// Connects and logs in as `name` (or stays anonymous); returns the connection once the
/// server confirmed (own login line, or the `format text` reply when anonymous; over IRC, the
/// end of the bench channel's names list).
pub async fn login(cfg: &ClientConfig, name: Option<&str>) -> Result<(Reader, Writer), String> {
    let (mut reader, mut writer) = conn::connect(cfg.addr, &cfg.transport, cfg.read_buffer)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    if cfg.protocol == Protocol::Irc {
        let nick = name.ok_or("an IRC client must register a nickname")?;
        irc_login(&mut reader, &mut writer, nick).await?;
        return Ok((reader, writer));
    }
    let (commands, expect) = match name {
        Some(n) => (
            format!("format text\nlogin {n}\n"),
            format!("[SYSTEM INFO] - [{n}] login to chat."),
        ),
        None => (
            "format text\n".to_string(),
            "[INFO] - format text".to_string(),
        ),
    };
    let mut sink = LoginSink {
        expect: expect.into_bytes(),
        greeted: false,
        done: false,
        error: None,
    };
    while !sink.greeted && sink.error.is_none() {
        match reader.read_batch(&mut sink).await {
            Ok(true) => {}
            Ok(false) => return Err("closed by server before the greeting".into()),
            Err(e) => return Err(format!("reading greeting: {e}")),
        }
    }
    if let Some(e) = sink.error {
        return Err(format!("server: {e}"));
    }
    writer
        .send(commands.as_bytes())
        .await
        .map_err(|e| format!("sending login: {e}"))?;
    while !sink.done {
        if let Some(e) = sink.error {
            return Err(format!("server: {e}"));
        }
        match reader.read_batch(&mut sink).await {
            Ok(true) => {}
            Ok(false) => return Err("closed by server during login".into()),
            Err(e) => return Err(format!("reading login reply: {e}")),
        }
    }
    Ok((reader, writer))
}

/// Registers `nick` on an IRC server and joins the bench channel; answers `PING`s meanwhile.
async fn irc_login(reader: &mut Reader, writer: &mut Writer, nick: &str) -> Result<(), String> {
    let mut sink = irc::LoginSink::new();
    writer
        .send(irc::register(nick).as_bytes())
        .await
        .map_err(|e| format!("sending registration: {e}"))?;
    let mut join_sent = false;
    while !sink.joined {
        match reader.read_batch(&mut sink).await {
            Ok(true) => {}
            Ok(false) => return Err("closed by server during registration".into()),
            Err(e) => return Err(format!("reading registration reply: {e}")),
        }
        if let Some(e) = sink.error.take() {
            return Err(format!("server: {e}"));
        }
        if !sink.pongs.is_empty() {
            writer
                .send(&sink.pongs)
                .await
                .map_err(|e| format!("answering ping: {e}"))?;
            sink.pongs.clear();
        }
        if sink.registered && !join_sent {
            join_sent = true;
            writer
                .send(irc::join().as_bytes())
                .await
                .map_err(|e| format!("joining {}: {e}", irc::CHANNEL))?;
        }
    }
    Ok(())
}

/// Runs `login` under the connect gate and the deadline, and reports the outcome.
async fn gated_login(
    id: usize,
    cfg: &ClientConfig,
    logins: &mpsc::UnboundedSender<Login>,
) -> Option<(Reader, Writer, String)> {
    let name = cfg.name(id);
    let outcome = tokio::time::timeout_at(cfg.deadline, async {
        let _permit = cfg
            .gate
            .acquire()
            .await
            .map_err(|_| "shutting down".to_string())?;
        let started = Instant::now();
        let conn = login(cfg, cfg.log_in.then_some(name.as_str())).await?;
        Ok::<_, String>((conn, started.elapsed()))
    })
    .await;
    match outcome {
        Ok(Ok(((reader, writer), took))) => {
            let _ = logins.send(Login::Ready { id, took });
            Some((reader, writer, name))
        }
        Ok(Err(reason)) => {
            let _ = logins.send(Login::Failed { id, reason });
            None
        }
        Err(_) => {
            let _ = logins.send(Login::Failed {
                id,
                reason: "timed out connecting or logging in".into(),
            });
            None
        }
    }
}

/// Resolves when the phase is `Stop` (or the coordinator is gone).
async fn stopped(phase: &mut watch::Receiver<Phase>) {
    let _ = phase.wait_for(|p| *p == Phase::Stop).await;
}

/// Counts deliveries and latencies of one receiving client.
struct Receiving<'a> {
    id: usize,
    sh: &'a LoadShared,
    protocol: Protocol,
    now: Instant,
    now_ns: u64,
    batch: u64,
    latencies: Vec<u64>,
    next_seq: Vec<u32>,
    /// IRC: `PONG`s owed to the server's `PING`s, sent after the read that brought them.
    pongs: Vec<u8>,
    stats: ClientStats,
}

impl LineSink for Receiving<'_> {
    fn batch_start(&mut self) {
        self.now = Instant::now();
        self.now_ns = self.sh.now_ns(self.now);
    }

    fn line(&mut self, line: &[u8]) {
        match self.protocol.classify(line) {
            Reply::Chat { text, .. } => {
                let Some(p) = Payload::parse(text) else {
                    return;
                };
                let sender = p.sender as usize;
                if p.run != self.sh.run || sender >= self.sh.senders || p.seq >= self.sh.messages {
                    return;
                }
                let next = &mut self.next_seq[sender];
                if p.seq < *next {
                    self.stats.duplicates += 1;
                    return;
                }
                *next = p.seq + 1;
                self.batch += 1;
                self.latencies.push(self.now_ns.saturating_sub(p.sent_ns));
                if sender != self.id || self.sh.solo() {
                    self.sh.ack(sender, p.seq);
                }
            }
            Reply::Error(e) => {
                *self
                    .stats
                    .errors
                    .entry(String::from_utf8_lossy(e).into_owned())
                    .or_default() += 1;
                // A sender only sends `msgall` (or `PRIVMSG`): an error answers one of its
                // messages, which the server refused (flood limit, line too long) and will never
                // deliver.
                if self.id < self.sh.senders {
                    self.sh.reject(self.id);
                }
            }
            Reply::Other if self.protocol == Protocol::Irc => {
                irc::answer_ping(line, &mut self.pongs);
            }
            _ => {}
        }
    }

    fn batch_end(&mut self) {
        if self.batch > 0 {
            self.stats.received += self.batch;
            self.stats.last_delivery = Some(self.now);
            self.sh.record_latencies(self.id, &self.latencies);
            self.sh.delivered(self.batch);
            self.batch = 0;
            self.latencies.clear();
        }
    }
}

/// One client of a load run: logs in, then receives until `Stop`, and if it is one of the
/// first `senders` clients, sends its messages once the phase is `Run`.
pub async fn load_client(
    id: usize,
    cfg: Arc<ClientConfig>,
    sh: Arc<LoadShared>,
    phase: watch::Receiver<Phase>,
    logins: mpsc::UnboundedSender<Login>,
) -> ClientStats {
    let Some((mut reader, writer, _name)) = gated_login(id, &cfg, &logins).await else {
        return ClientStats::default();
    };
    drop(logins);
    sh.client_joined();
    let mut recv = Receiving {
        id,
        sh: &sh,
        protocol: cfg.protocol,
        now: Instant::now(),
        now_ns: 0,
        batch: 0,
        latencies: Vec::with_capacity(256),
        next_seq: vec![0; sh.senders],
        pongs: Vec::new(),
        stats: ClientStats {
            ready: true,
            ..ClientStats::default()
        },
    };
    let mut recv_phase = phase.clone();
    // The receiving side's own handle on the socket, for the pongs.
    let mut answering = writer.handle();
    let receiving = async {
        // One stop watcher for the whole loop: re-creating it per read costs a registration.
        let stop = stopped(&mut recv_phase);
        tokio::pin!(stop);
        let lost = loop {
            tokio::select! {
                biased;
                () = &mut stop => break None,
                r = reader.read_batch(&mut recv) => match r {
                    Ok(true) => {}
                    Ok(false) => break Some(match reader.close_reason() {
                        Some(close) => format!("closed by server ({close})"),
                        None => "closed by server".to_string(),
                    }),
                    Err(e) => break Some(e.to_string()),
                },
            }
            if !recv.pongs.is_empty() {
                let answered = tokio::select! {
                    biased;
                    () = &mut stop => break None,
                    r = answering.send(&recv.pongs) => r,
                };
                if let Err(e) = answered {
                    break Some(format!("answering ping: {e}"));
                }
                recv.pongs.clear();
            }
        };
        if let Some(reason) = lost {
            sh.client_lost(recv.stats.received);
            recv.stats.disconnected = Some(reason);
        }
    };
    let sending = async {
        let mut writer = writer;
        let mut phase = phase;
        let sent = if id < sh.senders {
            let sent = send_loop(id, &sh, cfg.protocol, &mut writer, &mut phase).await;
            sh.sender_done();
            sent
        } else {
            0
        };
        // Keep the write half open until the end: closing it would read as a disconnect.
        stopped(&mut phase).await;
        drop(writer);
        sent
    };
    let ((), sent) = tokio::join!(receiving, sending);
    let mut stats = recv.stats;
    stats.sent = sent;
    stats
}

/// Sends this sender's messages, respecting window and rate; returns how many went out.
async fn send_loop(
    id: usize,
    sh: &LoadShared,
    protocol: Protocol,
    writer: &mut Writer,
    phase: &mut watch::Receiver<Phase>,
) -> u64 {
    let go = phase
        .wait_for(|p| matches!(p, Phase::Run | Phase::Stop))
        .await
        .map(|p| *p == Phase::Run)
        .unwrap_or(false);
    if !go {
        return 0;
    }
    let start = Instant::now();
    let period = (sh.rate > 0.0).then(|| Duration::from_secs_f64(sh.senders as f64 / sh.rate));
    // Each sender starts its share of a period after the one before it, so that together they
    // send at the total rate from the first message on, not all at once at the start. A time
    // past any run (the options' bounds make it far-fetched) is a day away: after its timeout.
    let offset = period.map(|p| p.mul_f64(id as f64 / sh.senders as f64));
    let due = |seq: u32| {
        let (p, offset) = (period?, offset?);
        Some(
            p.checked_mul(seq)
                .and_then(|d| start.checked_add(offset + d))
                .unwrap_or(start + Duration::from_secs(MAX_TIMEOUT)),
        )
    };
    let window = if sh.window > 0 {
        sh.window_of(id)
    } else {
        None
    };
    let sender = u32::try_from(id).unwrap_or(u32::MAX);
    let mut buf = Vec::with_capacity(64 * (sh.payload_size + 8));
    let mut seq = 0u32;
    let mut sent = 0u64;
    while seq < sh.messages {
        if let Some(at) = due(seq) {
            tokio::select! {
                biased;
                () = stopped(phase) => break,
                () = tokio::time::sleep_until(at) => {}
            }
        }
        if let Some(w) = window {
            tokio::select! {
                biased;
                () = stopped(phase) => break,
                p = w.acquire() => match p {
                    Ok(p) => p.forget(),
                    Err(_) => break,
                },
            }
        }
        buf.clear();
        let mut n = 0u32;
        loop {
            buf.extend_from_slice(protocol.send_prefix());
            Payload {
                run: sh.run,
                sender,
                seq,
                sent_ns: sh.now_ns(Instant::now()),
            }
            .encode_into(sh.payload_size, &mut buf);
            buf.extend_from_slice(protocol.line_end());
            seq += 1;
            n += 1;
            if seq >= sh.messages || n >= MAX_BATCH {
                break;
            }
            if due(seq).is_some_and(|at| at > Instant::now()) {
                break;
            }
            if let Some(w) = window {
                match w.try_acquire() {
                    Ok(p) => p.forget(),
                    Err(_) => break,
                }
            }
        }
        let write = tokio::select! {
            biased;
            () = stopped(phase) => break,
            r = writer.send(&buf) => r,
        };
        if write.is_err() {
            break;
        }
        sent += u64::from(n);
        sh.sent(u64::from(n));
    }
    sent
}

/// Drains an idle connection and notices the probe reply.
struct Draining {
    expect: Vec<u8>,
    seen: bool,
}

impl LineSink for Draining {
    fn line(&mut self, line: &[u8]) {
        if !self.seen && line == self.expect.as_slice() {
            self.seen = true;
        }
    }
}

/// One client of an idle run: logs in (or not), then only reads; on `Probe` sends `whoami` and
/// reports on `synced` once the answer arrived (so everything queued before it was delivered).
pub async fn idle_client(
    id: usize,
    cfg: Arc<ClientConfig>,
    mut phase: watch::Receiver<Phase>,
    logins: mpsc::UnboundedSender<Login>,
    synced: mpsc::UnboundedSender<usize>,
) {
    let Some((mut reader, mut writer, name)) = gated_login(id, &cfg, &logins).await else {
        return;
    };
    drop(logins);
    let expect = if cfg.log_in {
        format!("[INFO] - {name}")
    } else {
        "[ERROR] - First login!".to_string()
    };
    let mut sink = Draining {
        expect: expect.into_bytes(),
        seen: false,
    };
    let mut probed = false;
    let mut reported = false;
    loop {
        let now = *phase.borrow_and_update();
        if now == Phase::Stop {
            break;
        }
        if now == Phase::Probe && !probed {
            probed = true;
            if writer.send(b"whoami\n").await.is_err() {
                break;
            }
        }
        if sink.seen && !reported {
            reported = true;
            let _ = synced.send(id);
        }
        tokio::select! {
            r = reader.read_batch(&mut sink) => {
                if !matches!(r, Ok(true)) {
                    break;
                }
            }
            r = phase.changed() => {
                if r.is_err() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink() -> LoginSink {
        LoginSink {
            expect: b"[SYSTEM INFO] - [a] login to chat.".to_vec(),
            greeted: false,
            done: false,
            error: None,
        }
    }

    #[test]
    fn a_first_line_that_is_no_greeting_of_ours_names_the_server() {
        let mut irc = sink();
        irc.line(b":irc.local NOTICE * :*** Looking up your hostname...");
        assert!(
            irc.error
                .as_deref()
                .is_some_and(|e| e.starts_with("not an async-chat server: it first sent")),
            "{:?}",
            irc.error
        );
        let mut ours = sink();
        ours.line(b"\x1b[34m[SERVER INFO]\x1b[0m - Welcome to tokio_chat! Type help for commands.");
        assert!(ours.greeted && ours.error.is_none(), "{:?}", ours.error);
    }
}
