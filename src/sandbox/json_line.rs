//! A recorded request as one JSON line, written by hand because it is written for every
//! request: serde_json escapes strings a byte at a time through its formatter, which made
//! string escaping the sandbox's largest cost after the network. This writes the same JSON
//! (the serde form reads it back; a test holds the two together) and skips runs of plain
//! text eight bytes at a time.

use super::recording::{Answer, Fault, RecordedRequest, RecordedResponse};
use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue};

/// A record as it is written: the fields of [`RecordedRequest`], borrowed from wherever they
/// are. The sandbox writes each request's line straight from the request and its answer, so
/// that its headers and body are not first copied into a record (and freed again).
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub id: &'a str,
    pub session: &'a str,
    pub seq: u64,
    pub timestamp: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: Headers<'a>,
    /// UTF-8 text, or base64 when `body_base64`.
    pub body: &'a str,
    pub body_base64: bool,
    pub body_size: u64,
    pub endpoint: Option<&'a str>,
    pub fingerprint: Option<&'a str>,
    pub occurrence: Option<u64>,
    pub answered_by: &'a Answer,
    pub fault: Option<Fault>,
    pub scheduled_delay_ms: u64,
    pub response: Option<EntryResponse<'a>>,
}

/// [`RecordedResponse`], borrowed.
#[derive(Debug, Clone, Copy)]
pub struct EntryResponse<'a> {
    pub status: u16,
    pub headers: Headers<'a>,
    pub body: &'a str,
    pub body_base64: bool,
}

/// Headers in arrival order, from a record or as hyper holds them. Values that are not UTF-8
/// are written lossily, as a record holds them.
#[derive(Debug, Clone, Copy)]
pub enum Headers<'a> {
    Recorded(&'a [(String, String)]),
    Map(&'a HeaderMap),
    Pairs(&'a [(HeaderName, HeaderValue)]),
}

impl<'a> From<&'a RecordedRequest> for Entry<'a> {
    fn from(record: &'a RecordedRequest) -> Self {
        Entry {
            id: &record.id,
            session: &record.session,
            seq: record.seq,
            timestamp: &record.timestamp,
            method: &record.method,
            path: &record.path,
            query: record.query.as_deref(),
            headers: Headers::Recorded(&record.headers),
            body: &record.body,
            body_base64: record.body_base64,
            body_size: record.body_size,
            endpoint: record.endpoint.as_deref(),
            fingerprint: record.fingerprint.as_deref(),
            occurrence: record.occurrence,
            answered_by: &record.answered_by,
            fault: record.fault,
            scheduled_delay_ms: record.scheduled_delay_ms,
            response: record.response.as_ref().map(EntryResponse::from),
        }
    }
}

impl<'a> From<&'a RecordedResponse> for EntryResponse<'a> {
    fn from(response: &'a RecordedResponse) -> Self {
        EntryResponse {
            status: response.status,
            headers: Headers::Recorded(&response.headers),
            body: &response.body,
            body_base64: response.body_base64,
        }
    }
}

/// Appends `record` as JSON and a newline.
pub fn write(out: &mut Vec<u8>, record: &RecordedRequest) {
    write_entry(out, &Entry::from(record));
}

/// Appends `entry` as JSON and a newline: the line of the [`RecordedRequest`] it borrows from.
pub fn write_entry(out: &mut Vec<u8>, record: &Entry) {
    out.extend_from_slice(b"{\"id\":");
    string(out, record.id);
    out.extend_from_slice(b",\"session\":");
    string(out, record.session);
    out.extend_from_slice(b",\"seq\":");
    number(out, record.seq);
    out.extend_from_slice(b",\"timestamp\":");
    string(out, record.timestamp);
    out.extend_from_slice(b",\"method\":");
    string(out, record.method);
    out.extend_from_slice(b",\"path\":");
    string(out, record.path);
    if let Some(query) = record.query {
        out.extend_from_slice(b",\"query\":");
        string(out, query);
    }
    out.extend_from_slice(b",\"headers\":");
    headers(out, record.headers);
    out.extend_from_slice(b",\"body\":");
    string(out, record.body);
    if record.body_base64 {
        out.extend_from_slice(b",\"body_base64\":true");
    }
    out.extend_from_slice(b",\"body_size\":");
    number(out, record.body_size);
    if let Some(endpoint) = record.endpoint {
        out.extend_from_slice(b",\"endpoint\":");
        string(out, endpoint);
    }
    if let Some(fingerprint) = record.fingerprint {
        out.extend_from_slice(b",\"fingerprint\":");
        string(out, fingerprint);
    }
    if let Some(occurrence) = record.occurrence {
        out.extend_from_slice(b",\"occurrence\":");
        number(out, occurrence);
    }
    out.extend_from_slice(b",\"answered_by\":");
    answer(out, record.answered_by);
    if let Some(fault) = record.fault {
        out.extend_from_slice(b",\"fault\":");
        string(out, fault.as_str());
    }
    out.extend_from_slice(b",\"scheduled_delay_ms\":");
    number(out, record.scheduled_delay_ms);
    if let Some(response) = &record.response {
        out.extend_from_slice(b",\"response\":");
        self::response(out, response);
    }
    out.extend_from_slice(b"}\n");
}

fn answer(out: &mut Vec<u8>, answer: &Answer) {
    // The usual answers by heart; the rest, rare, by serde (a small tagged enum).
    match answer {
        Answer::Route => out.extend_from_slice(b"{\"rule\":\"route\"}"),
        Answer::Endpoint => out.extend_from_slice(b"{\"rule\":\"endpoint\"}"),
        Answer::NotFound => out.extend_from_slice(b"{\"rule\":\"not-found\"}"),
        other => serde_json::to_writer(&mut *out, other).expect("writing to memory cannot fail"),
    }
}

fn response(out: &mut Vec<u8>, response: &EntryResponse) {
    out.extend_from_slice(b"{\"status\":");
    number(out, u64::from(response.status));
    out.extend_from_slice(b",\"headers\":");
    headers(out, response.headers);
    out.extend_from_slice(b",\"body\":");
    string(out, response.body);
    if response.body_base64 {
        out.extend_from_slice(b",\"body_base64\":true");
    }
    out.push(b'}');
}

fn headers(out: &mut Vec<u8>, headers: Headers) {
    out.push(b'[');
    let mut pair = |index: usize, name: &str, value: &[u8]| {
        if index > 0 {
            out.push(b',');
        }
        out.push(b'[');
        string(out, name);
        out.push(b',');
        string(out, &String::from_utf8_lossy(value));
        out.push(b']');
    };
    match headers {
        Headers::Recorded(pairs) => {
            for (index, (name, value)) in pairs.iter().enumerate() {
                pair(index, name, value.as_bytes());
            }
        }
        Headers::Map(map) => {
            for (index, (name, value)) in map.iter().enumerate() {
                pair(index, name.as_str(), value.as_bytes());
            }
        }
        Headers::Pairs(pairs) => {
            for (index, (name, value)) in pairs.iter().enumerate() {
                pair(index, name.as_str(), value.as_bytes());
            }
        }
    }
    out.push(b']');
}

fn number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A JSON string: quoted, with `"`, `\\` and control characters escaped.
fn string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut plain_from = 0;
    let mut at = 0;
    loop {
        // Eight bytes at a time to the next byte that needs escaping, found exactly from the
        // word's flags (the lowest flag is never a false one).
        while let Some(word) = bytes.get(at..at + 8) {
            let flags = escape_flags(u64::from_le_bytes(word.try_into().expect("eight bytes")));
            if flags != 0 {
                at += (flags.trailing_zeros() / 8) as usize;
                break;
            }
            at += 8;
        }
        let Some(&byte) = bytes.get(at) else { break };
        if !needs_escape_byte(byte) {
            at += 1;
            continue;
        }
        out.extend_from_slice(&bytes[plain_from..at]);
        let escaped: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ]);
                at += 1;
                plain_from = at;
                continue;
            }
        };
        out.extend_from_slice(escaped);
        at += 1;
        plain_from = at;
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

fn needs_escape_byte(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The high bit of each of eight bytes set where the byte may be `"`, `\\` or below 0x20.
/// A flag may be false only above a true one (a borrow runs upwards), so the lowest flag,
/// if any, marks the first byte that needs escaping.
fn escape_flags(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let quote = word ^ (ONES * u64::from(b'"'));
    let quote = quote.wrapping_sub(ONES) & !quote & HIGH;
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let backslash = backslash.wrapping_sub(ONES) & !backslash & HIGH;
    below_space | quote | backslash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::KeyedRandom;
    use crate::sandbox::recording::tests::sample;
    use crate::sandbox::recording::{Answer, Fault};

    /// Strings full of what needs escaping, at every offset within a word.
    fn awkward_strings() -> Vec<String> {
        let mut strings: Vec<String> = vec![
            String::new(),
            "plain".into(),
            "exactly8".into(),
            "\"".into(),
            "\\".into(),
            "a\"b\\c\nd\re\tf\u{8}g\u{c}h\u{0}i\u{1f}j\u{7f}k".into(),
            "ünïcödé ✓ 𝄞 \u{2028}\u{2029}".into(),
            "x".repeat(600),
            r#"{"amount": 1000, "currency": "USD", "note": "say \"hi\"\n"}"#.into(),
        ];
        let random = KeyedRandom::new(9);
        for n in 0u32..300 {
            let len = (random.bits("len", &[&n.to_le_bytes()]) % 40) as usize;
            let text: String = (0..len as u32)
                .map(|i| {
                    let pick = random.bits("char", &[&n.to_le_bytes(), &i.to_le_bytes()]);
                    match pick % 4 {
                        0 => char::from((pick >> 8) as u8 & 0x7f),
                        1 => ['"', '\\', '\n', '\u{1}', '\u{1f}', ' '][(pick >> 8) as usize % 6],
                        2 => char::from_u32(0x80 + (pick >> 8) as u32 % 0x700).unwrap_or('?'),
                        _ => 'a',
                    }
                })
                .collect();
            strings.push(text);
        }
        strings
    }

    #[test]
    fn the_hand_written_line_reads_back_as_the_record() {
        for (n, text) in awkward_strings().into_iter().enumerate() {
            let mut record = sample(n as u64 + 1, &text);
            record.path = format!("/webhook/{text}");
            record.query = (n % 2 == 0).then(|| text.clone());
            record.headers.push((text.clone(), text.clone()));
            record.body = text.clone();
            record.body_base64 = n % 3 == 0;
            record.endpoint = (n % 4 != 0).then(|| text.clone());
            record.fingerprint = (n % 5 != 0).then(|| "ab".repeat(32));
            record.occurrence = (n % 5 != 0).then_some(n as u64 * 1_000_000_007);
            record.answered_by = match n % 6 {
                0 => Answer::Rejected {
                    reason: text.clone(),
                },
                1 => Answer::Sequence { entry: 2 },
                2 => Answer::Every { n: 3 },
                3 => Answer::Route,
                4 => Answer::Endpoint,
                _ => Answer::NotFound,
            };
            record.fault = [None, Some(Fault::ErrorRate), Some(Fault::SlowBody)][n % 3];
            record.scheduled_delay_ms = u64::MAX - n as u64;
            if n % 6 == 0 {
                record.response = None;
            } else if let Some(response) = record.response.as_mut() {
                response.body = text.clone();
                response.body_base64 = n % 2 == 1;
                response.headers.push(("x".into(), text.clone()));
            }
            let mut line = Vec::new();
            write(&mut line, &record);
            assert_eq!(line.last(), Some(&b'\n'));
            assert_eq!(
                line.iter().filter(|b| **b == b'\n').count(),
                1,
                "one line: {}",
                String::from_utf8_lossy(&line)
            );
            let read: RecordedRequest = serde_json::from_slice(&line)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&line)));
            assert_eq!(read, record);
            // The same document serde writes.
            let ours: serde_json::Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(ours, serde_json::to_value(&record).unwrap());
        }
    }

    #[test]
    fn headers_as_hyper_holds_them_are_written_as_recorded() {
        let mut map = HeaderMap::new();
        map.append("content-type", HeaderValue::from_static("application/json"));
        map.append("x-twice", HeaderValue::from_static("one"));
        map.append("x-twice", HeaderValue::from_static("two \"quoted\""));
        map.append("x-binary", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let pairs: Vec<(HeaderName, HeaderValue)> =
            map.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        let mut record = sample(1, "s");
        record.headers = map
            .iter()
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_string(), value)
            })
            .collect();
        if let Some(response) = record.response.as_mut() {
            response.headers = record.headers.clone();
        }
        let mut expected = Vec::new();
        write(&mut expected, &record);

        let mut entry = Entry::from(&record);
        entry.headers = Headers::Map(&map);
        let response = entry.response.as_mut().unwrap();
        response.headers = Headers::Pairs(&pairs);
        let mut line = Vec::new();
        write_entry(&mut line, &entry);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }

    #[test]
    fn the_word_test_never_misses_a_byte_that_needs_escaping() {
        for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
            for position in 0..8 {
                let mut word = *b"abcdefgh";
                word[position] = special;
                let flags = escape_flags(u64::from_le_bytes(word));
                assert_eq!(
                    flags.trailing_zeros() / 8,
                    position as u32,
                    "{special:#x} at {position}"
                );
            }
        }
        assert_eq!(escape_flags(u64::from_le_bytes(*b"abc def~")), 0);
        assert_eq!(
            escape_flags(u64::from_le_bytes([
                0xc3, 0xbc, 0xe2, 0x9c, 0x93, 0x7f, 0x20, 0x21
            ])),
            0
        );
        // The lowest flag is exact even where a borrow flags the bytes above it.
        for first in [0u8, 0x1f, b'"', b'\\'] {
            for position in 0..8 {
                let mut word = [0x21u8; 8];
                word[position] = first;
                for above in position + 1..8 {
                    word[above] = [0x20, 0x21, 0x01, b'#', b']'][above % 5];
                }
                let flags = escape_flags(u64::from_le_bytes(word));
                assert_eq!(flags.trailing_zeros() / 8, position as u32, "{word:?}");
            }
        }
    }

    #[test]
    fn numbers_are_written_in_full() {
        for n in [0, 7, 10, 99, 1_707_389_523_456, u64::MAX] {
            let mut out = Vec::new();
            number(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
