//! Alert evaluation over 1,000,000 deliveries, one per virtual millisecond (300,000 in a
//! 5-minute window): time per delivery (target ≤ 1 µs), p95 accuracy (within 1 %), and peak
//! heap at 1,000,000 deliveries against 100,000 (target ≤ 2×).
//!
//! Peak heap is measured by a counting global allocator around the evaluation alone, so it is
//! reproducible (no allocator or OS noise). The accuracy and memory figures are printed
//! before divan's timings. Run with `just bench-alerts` (`cargo bench --bench alerting`).

use divan::Bencher;
use divan::counter::ItemsCount;
use hookplan::alerting::window::SlidingWindow;
use hookplan::alerting::{AlertEvaluator, AlertRecord};
use hookplan::model::{AlertingDecl, Span};
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "support/heap.rs"]
mod heap;

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

const WINDOW: Duration = Duration::from_secs(300);

/// The n-th delivery: (at, failed, latency). A fast bulk with a slow tail, 5 % failures.
struct Deliveries(u64);

impl Iterator for Deliveries {
    type Item = (Duration, bool, Duration);

    fn next(&mut self) -> Option<Self::Item> {
        let n = self.0;
        self.0 += 1;
        let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 29;
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        let latency_us = 20_000.0 + 150_000.0 * -(1.0 - u).ln();
        Some((
            Duration::from_millis(n),
            x.is_multiple_of(20),
            Duration::from_micros(latency_us as u64),
        ))
    }
}

fn settings() -> AlertingDecl {
    let mut settings = AlertingDecl::new(Span::default());
    settings.window = WINDOW;
    settings
}

/// Evaluates `n` deliveries; returns how many alerts were raised.
fn evaluate(n: u64) -> usize {
    let mut evaluator = AlertEvaluator::new(&settings(), AlertRecord::default());
    let mut raised = 0;
    for (at, failed, latency) in Deliveries(0).take(n as usize) {
        raised += evaluator.delivery(at, failed, latency).len();
    }
    raised
}

/// Heap high-water mark (bytes above what was live before) while evaluating `n` deliveries.
fn peak_heap(n: u64) -> usize {
    let before = heap::start();
    black_box(evaluate(n));
    heap::peak_since(before)
}

fn exact_p95(mut values: Vec<u64>) -> f64 {
    values.sort_unstable();
    values[(0.95 * values.len() as f64).ceil() as usize - 1] as f64 / 1000.0
}

fn main() {
    let n = 1_000_000u64;
    // Time per delivery, outside divan too, so the figure is printed beside the others.
    let started = Instant::now();
    black_box(evaluate(n));
    let per = started.elapsed().as_secs_f64() * 1e6 / n as f64;

    let mut window = SlidingWindow::new(WINDOW);
    let all: Vec<(Duration, bool, Duration)> = Deliveries(0).take(n as usize).collect();
    for &(at, failed, latency) in &all {
        window.add_delivery(at, failed, latency);
    }
    let estimate = window.p95_ms().expect("deliveries in the window");
    let held = window.counts().deliveries as usize;
    let in_slices: Vec<u64> = all[all.len() - held..]
        .iter()
        .map(|d| d.2.as_micros() as u64)
        .collect();
    let last_window: Vec<u64> = all[all.len() - 300_000..]
        .iter()
        .map(|d| d.2.as_micros() as u64)
        .collect();
    let exact_slices = exact_p95(in_slices);
    let exact_window = exact_p95(last_window);
    drop(all);

    let small = peak_heap(100_000);
    let large = peak_heap(n);
    println!("alert evaluation, 1 delivery per virtual ms, 5-minute window");
    println!("  time per delivery (1,000,000):   {per:.3} µs   (target ≤ 1 µs)");
    println!(
        "  p95: histogram {estimate:.3} ms, exact over the same {held} deliveries {exact_slices:.3} ms ({:+.3} %)",
        (estimate - exact_slices) / exact_slices * 100.0
    );
    println!(
        "       exact over the last 300,000 deliveries {exact_window:.3} ms ({:+.3} %)   (target within 1 %)",
        (estimate - exact_window) / exact_window * 100.0
    );
    println!(
        "  peak heap: {small} bytes at 100,000, {large} bytes at 1,000,000 ({:.2}×)   (target ≤ 2×)",
        large as f64 / small as f64
    );
    divan::main();
}

#[divan::bench(args = [100_000, 1_000_000], sample_count = 5)]
fn deliveries(bencher: Bencher, n: u64) {
    bencher
        .counter(ItemsCount::new(n))
        .bench(|| black_box(evaluate(n)));
}
