//! Criterion benchmarks of what the load generator does per delivery it receives: classify the
//! reply line, read the payload back. Its own appetite caps what it can measure on a 2-core
//! machine, so this is its hot path.
//!
//! Run with `cargo bench -p chat-bench --bench receive` (add `-- --quick` for a short run).

use std::hint::black_box;

use chat_bench::line::{Reply, classify};
use chat_bench::payload::Payload;
use criterion::{Criterion, criterion_group, criterion_main};

/// 1,000 chat lines as a run's receivers see them: 100 senders, sequence numbers up to 100,
/// send times about a second into the run, 64-byte payloads (the default `--payload-size`).
fn lines() -> Vec<Vec<u8>> {
    (0..1000u32)
        .map(|i| {
            let mut line = format!("[12:34:56][bench{}]: ", i % 100).into_bytes();
            Payload {
                run: 3_141_592_653,
                sender: i % 100,
                seq: i / 10,
                sent_ns: 400_000_000 + u64::from(i) * 912_345,
            }
            .encode_into(64, &mut line);
            line
        })
        .collect()
}

fn receive(c: &mut Criterion) {
    let lines = lines();
    let texts: Vec<&[u8]> = lines
        .iter()
        .map(|line| match classify(line) {
            Reply::Chat { text, .. } => text,
            _ => &[],
        })
        .collect();
    c.bench_function("payload_parse_1000", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for text in &texts {
                if let Some(p) = Payload::parse(black_box(text)) {
                    sum = sum.wrapping_add(p.sent_ns);
                }
            }
            sum
        })
    });
    c.bench_function("classify_1000", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for line in &lines {
                if let Reply::Chat { text, .. } = classify(black_box(line)) {
                    n += text.len();
                }
            }
            n
        })
    });
    c.bench_function("classify_and_parse_1000", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for line in &lines {
                if let Reply::Chat { text, .. } = classify(black_box(line))
                    && let Some(p) = Payload::parse(text)
                {
                    sum = sum.wrapping_add(p.sent_ns);
                }
            }
            sum
        })
    });
}

criterion_group!(benches, receive);
criterion_main!(benches);
