//! The sandbox writes one JSON line per request. It has its own writer
//! (`hookplan::sandbox::json_line`) rather than `serde_json::to_writer`; this measures both on
//! the record of the throughput benchmark's request (scripts/bench-sandbox.sh: ~1 KB of JSON
//! from wrk) and on one with a plain-text body, so that the hand-written one is kept only
//! while it pays for itself.
//!
//! Run with `cargo bench --bench json_line`.

use divan::Bencher;
use hookplan::sandbox::{Answer, RecordedRequest, RecordedResponse};
use std::hint::black_box;

fn main() {
    divan::main();
}

/// The body scripts/bench-sandbox.sh sends.
fn payment_event() -> String {
    serde_json::json!({
        "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "type": "payment_intent.succeeded", "created": 1707389523,
        "data": {"object": {"id": "pi_3NG8Du2eZvKYlo2C1pQ7xYzA", "amount": 1000, "currency": "usd",
                            "customer": "cus_NffrFeUfNV2Hib", "description": "Order #1234",
                            "metadata": {"order_id": "1234", "note": "x".repeat(600)}, "status": "succeeded"}}
    })
    .to_string()
}

fn record(body: String) -> RecordedRequest {
    let headers = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    RecordedRequest {
        id: "POST_1796159773000".into(),
        session: "1796159772000-4242".into(),
        seq: 123_456,
        timestamp: "2026-12-01T21:20:00.123Z".into(),
        method: "POST".into(),
        path: "/webhook/payment".into(),
        query: None,
        headers: headers(&[
            ("host", "127.0.0.1:8888"),
            ("content-length", "1011"),
            ("content-type", "application/json"),
            ("authorization", "Bearer sk_test_bench_0123456789abcdef"),
        ]),
        body_size: body.len() as u64,
        body,
        body_base64: false,
        endpoint: Some("/webhook/*".into()),
        fingerprint: Some("ab".repeat(32)),
        occurrence: Some(0),
        answered_by: Answer::Route,
        fault: None,
        scheduled_delay_ms: 0,
        response: Some(RecordedResponse {
            status: 200,
            headers: headers(&[
                ("content-type", "application/json"),
                ("x-request-id", "POST_1796159773000"),
            ]),
            body: r#"{"status":"received","request_id":"POST_1796159773000"}"#.into(),
            body_base64: false,
        }),
    }
}

fn records() -> [(&'static str, RecordedRequest); 2] {
    [
        ("json body", record(payment_event())),
        ("text body", record("order 1234 paid; ".repeat(60))),
    ]
}

#[divan::bench(args = ["json body", "text body"])]
fn hand_written(bencher: Bencher, which: &str) {
    let record = records().into_iter().find(|(n, _)| *n == which).unwrap().1;
    let mut line = Vec::with_capacity(8192);
    bencher.bench_local(|| {
        line.clear();
        hookplan::sandbox::json_line::write(&mut line, black_box(&record));
        black_box(line.len())
    });
}

#[divan::bench(args = ["json body", "text body"])]
fn serde_json_to_writer(bencher: Bencher, which: &str) {
    let record = records().into_iter().find(|(n, _)| *n == which).unwrap().1;
    let mut line = Vec::with_capacity(8192);
    bencher.bench_local(|| {
        line.clear();
        serde_json::to_writer(&mut line, black_box(&record)).unwrap();
        line.push(b'\n');
        black_box(line.len())
    });
}
