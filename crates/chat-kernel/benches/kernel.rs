//! Criterion benchmarks of the kernel's hot path: parsing a line, dispatching a `msgall` to
//! 1,000 logged-in users, rendering a message in each output form, and splitting TCP bytes into
//! lines.
//!
//! Run with `cargo bench -p chat-kernel --bench kernel` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chat_kernel::packer::render;
use chat_kernel::parser::parse;
use chat_kernel::reply::{ChatLine, Destination, Reply};
use chat_kernel::store::{Account, HistoryRecord};
use chat_kernel::{
    Console, Format, Input, Kernel, KernelConfig, Limits, LineDecoder, Outbox, Store, StoreError,
    Transport,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Typical client lines, by label.
const LINES: [(&str, &str); 7] = [
    ("login", "login alice"),
    ("msg", "msg bob hey, are you coming to the meetup tonight?"),
    ("msgall", "msgall good morning everyone, coffee is ready"),
    (
        "msg_room",
        "/msg #rust has anyone tried the 2024 edition yet?",
    ),
    ("join", "/JOIN #rust"),
    ("history", "history #rust 50"),
    ("unknown", "frobnicate the widgets"),
];

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (label, line) in LINES {
        group.bench_with_input(BenchmarkId::from_parameter(label), line, |b, line| {
            b.iter(|| {
                let _ = black_box(parse(black_box(line)));
            })
        });
    }
    group.finish();
}

/// A store that keeps nothing, so the benchmark measures the kernel, not history growth.
struct NullStore;

impl Store for NullStore {
    fn load_accounts(&mut self) -> Result<Vec<Account>, StoreError> {
        Ok(Vec::new())
    }
    fn insert_account(&mut self, _: &Account) -> Result<(), StoreError> {
        Ok(())
    }
    fn append_history(&mut self, _: &[HistoryRecord]) -> Result<(), StoreError> {
        Ok(())
    }
    fn load_history(&mut self, _: usize) -> Result<Vec<HistoryRecord>, StoreError> {
        Ok(Vec::new())
    }
}

/// A kernel with `users` logged-in TCP connections, their forms cycling through `forms`.
fn crowd(users: usize, forms: &[Format]) -> (Kernel, Vec<(u64, Outbox)>) {
    let config = KernelConfig {
        limits: Limits {
            flood: None,
            max_connections: users + 10,
            ..Limits::default()
        },
        no_color: false,
    };
    let kernel =
        Kernel::new(config, Box::new(NullStore), Console::stdout(false)).expect("kernel starts");
    let server: Arc<str> = Arc::from("bench_chat");
    let mut conns = Vec::with_capacity(users);
    for i in 0..users {
        let peer = SocketAddr::from(([127, 0, 0, 1], 10_000 + i as u16));
        let conn = kernel
            .connect(&server, peer, Transport::Tcp)
            .expect("connect");
        let form = forms[i % forms.len()].name();
        kernel.handle(conn.id, Input::Line(&format!("format {form}")));
        kernel.handle(conn.id, Input::Line(&format!("login user{i}")));
        conns.push((conn.id, conn.outbox));
        drain(&conns);
    }
    (kernel, conns)
}

fn drain(conns: &[(u64, Outbox)]) {
    let mut batch: Vec<Bytes> = Vec::new();
    for (_, outbox) in conns {
        outbox.try_batch(&mut batch);
        batch.clear();
    }
}

fn bench_dispatch(c: &mut Criterion) {
    const USERS: usize = 1_000;
    let mut group = c.benchmark_group("dispatch_msgall_1000_users");
    group.throughput(Throughput::Elements(USERS as u64));
    for (label, forms) in [
        ("one_form", &[Format::Text][..]),
        (
            "three_forms",
            &[Format::Color, Format::Text, Format::Json][..],
        ),
    ] {
        let (kernel, conns) = crowd(USERS, forms);
        let sender = conns[0].0;
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // Queues are emptied outside the measurement, as writers would.
                    drain(&conns);
                    let start = Instant::now();
                    black_box(kernel.handle(sender, Input::Line("msgall hello everyone")));
                    total += start.elapsed();
                }
                total
            })
        });
        // Every recipient is still connected: nothing overflowed.
        assert_eq!(kernel.connections(), USERS);
    }
    group.finish();
}

fn bench_render(c: &mut Criterion) {
    let reply = Reply::Message {
        line: ChatLine {
            time: chrono::Utc::now(),
            from: Arc::from("alice"),
            to: Destination::Room(Arc::from("#rust")),
            text: Arc::from("has anyone tried the 2024 edition yet? \"quotes\" & <tags>"),
        },
        history: false,
    };
    let mut group = c.benchmark_group("render_message");
    for form in Format::ALL {
        group.bench_function(form.name(), |b| {
            b.iter(|| black_box(render(black_box(&reply), form)))
        });
    }
    group.finish();
}

fn bench_decode(c: &mut Criterion) {
    let mut data = Vec::new();
    for i in 0..100 {
        data.extend_from_slice(format!("msgall message number {i} of a burst\r\n").as_bytes());
    }
    let mut group = c.benchmark_group("decode_tcp");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("100_lines", |b| {
        let mut decoder = LineDecoder::new(4096);
        b.iter(|| {
            let mut n = 0usize;
            decoder.feed(black_box(&data), |input| {
                if let Input::Line(l) = input {
                    n += l.len();
                }
            });
            black_box(n)
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_parse,
    bench_dispatch,
    bench_render,
    bench_decode
);
criterion_main!(benches);
