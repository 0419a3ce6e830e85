//! Recorded requests: what each one looked like, how it was answered, and reading them back.
//!
//! A sandbox folder holds one JSON-lines file per session (each `start` is a session),
//! `requests-<session>.jsonl`, mode 0600: recordings keep raw header values because replay
//! needs them; every display masks them. A crash can leave a torn last line; reading skips
//! it (and any other line that does not parse) rather than fail.

use base64::Engine;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

const SESSION_PREFIX: &str = "requests-";
const SESSION_SUFFIX: &str = ".jsonl";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// `POST_1707389523456`: the method and the arrival time in unix milliseconds, bumped
    /// when another request already took that millisecond.
    pub id: String,
    pub session: String,
    /// Arrival order within the session, from 1.
    pub seq: u64,
    /// Arrival time, RFC 3339 in UTC with milliseconds.
    pub timestamp: String,
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// In arrival order, repeated names kept; raw values (displays mask them).
    pub headers: Vec<(String, String)>,
    /// UTF-8 text, or base64 when `body_base64`.
    pub body: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_base64: bool,
    /// Bytes received (or announced, for a body refused as too large).
    pub body_size: u64,
    /// The route or endpoint that answered (`/webhook/*`, `POST /webhook/payment`); none for a 404.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// sha256 of method, path and body (hex); with `occurrence` it keys the random draws.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// How many requests with the same fingerprint arrived before this one in the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<u64>,
    pub answered_by: Answer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    /// The injected delay as scheduled (the real wait is this × the time scale).
    #[serde(default)]
    pub scheduled_delay_ms: u64,
    /// What was sent back; none when the connection was reset, closed or left hanging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<RecordedResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_base64: bool,
}

/// Which rule produced the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Answer {
    /// A default route (`/webhook/*`, `/test`, `/api/*`) acknowledged it.
    Route,
    /// A configured endpoint's answer.
    Endpoint,
    /// Entry `entry` (from 1) of the endpoint's `respond` sequence.
    Sequence { entry: u32 },
    /// The endpoint's every-n-th answer.
    Every { n: u32 },
    /// No route: 404.
    NotFound,
    /// Refused before any rule applied (body too large, bad signature).
    Rejected { reason: String },
    /// The Infisical emulation answered; `wrote`: the request changed its state. With
    /// `fault_after_write`, an injected fault then replaced the answer (the write was kept).
    Infisical {
        wrote: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        fault_after_write: bool,
    },
}

/// What the sandbox injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The error rate replaced the answer with the error status.
    ErrorRate,
    Reset,
    Close,
    Hang,
    SlowBody,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::ErrorRate => "error-rate",
            Fault::Reset => "reset",
            Fault::Close => "close",
            Fault::Hang => "hang",
            Fault::SlowBody => "slow-body",
        }
    }
}

impl From<super::config::ConnectionFault> for Fault {
    fn from(fault: super::config::ConnectionFault) -> Self {
        use super::config::ConnectionFault as C;
        match fault {
            C::Reset => Fault::Reset,
            C::Close => Fault::Close,
            C::Hang => Fault::Hang,
            C::SlowBody => Fault::SlowBody,
        }
    }
}

impl RecordedRequest {
    pub fn body_bytes(&self) -> Vec<u8> {
        decode_body(&self.body, self.body_base64).unwrap_or_default()
    }

    /// The first value of a header (names compare without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Path and query as sent.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }
}

impl RecordedResponse {
    pub fn body_bytes(&self) -> Vec<u8> {
        decode_body(&self.body, self.body_base64).unwrap_or_default()
    }
}

/// Text when the bytes are UTF-8, base64 otherwise; the flag says which.
pub fn encode_body(bytes: &[u8]) -> (String, bool) {
    let (text, base64) = body_text(bytes);
    (text.into_owned(), base64)
}

/// [`encode_body`] without copying a body that is text.
pub fn body_text(bytes: &[u8]) -> (std::borrow::Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.into(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into(),
            true,
        ),
    }
}

pub fn decode_body(data: &str, base64: bool) -> Result<Vec<u8>, base64::DecodeError> {
    if base64 {
        base64::engine::general_purpose::STANDARD.decode(data)
    } else {
        Ok(data.as_bytes().to_vec())
    }
}

/// Which recordings to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The newest session (the running one, or the last one that ran).
    LatestSession,
    /// One session by id.
    Session(String),
    /// Every session, oldest first.
    All,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("cannot read recordings in {}: {}", path.display(), crate::io_error::describe(source))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The file of one session.
pub fn session_file(dir: &Path, session: &str) -> PathBuf {
    dir.join(format!("{SESSION_PREFIX}{session}{SESSION_SUFFIX}"))
}

/// Session ids in a sandbox folder, oldest first (ids start with zero-padded unix millis).
pub fn sessions(dir: &Path) -> Result<Vec<String>, RecordingError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(RecordingError::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut sessions: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            Some(
                name.strip_prefix(SESSION_PREFIX)?
                    .strip_suffix(SESSION_SUFFIX)?
                    .to_string(),
            )
        })
        .collect();
    sessions.sort();
    Ok(sessions)
}

/// Reads recorded requests, each session in arrival order. Lines that do not parse (a torn
/// last line after a crash) are skipped.
pub fn read(dir: &Path, selection: Selection) -> Result<Vec<RecordedRequest>, RecordingError> {
    let all = sessions(dir)?;
    let chosen: Vec<String> = match selection {
        Selection::All => all,
        Selection::LatestSession => all.into_iter().last().into_iter().collect(),
        Selection::Session(id) => all.into_iter().filter(|s| *s == id).collect(),
    };
    let mut records = Vec::new();
    for session in chosen {
        records.extend(read_session_file(&session_file(dir, &session))?);
    }
    Ok(records)
}

/// The largest id number among the last records of the newest session (ids may run ahead
/// of the clock under load; a new session continues after them). Reads only the file's tail.
pub fn last_id_millis(dir: &Path) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    const TAIL: u64 = 256 * 1024;
    let session = sessions(dir).ok()?.pop()?;
    let mut file = File::open(session_file(dir, &session)).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL))).ok()?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).ok()?;
    tail.split(|b| *b == b'\n')
        .filter_map(|line| {
            // Every line starts with its id: {"id":"POST_1707389523456",…
            let rest = line.strip_prefix(b"{\"id\":\"")?;
            let end = rest.iter().position(|b| *b == b'"')?;
            super::request_id::millis_of(std::str::from_utf8(&rest[..end]).ok()?)
        })
        .max()
}

/// Finds a request by id, newest session first.
pub fn find(dir: &Path, id: &str) -> Result<Option<RecordedRequest>, RecordingError> {
    for session in sessions(dir)?.iter().rev() {
        let path = session_file(dir, session);
        if let Some(found) = read_session_file(&path)?.into_iter().find(|r| r.id == id) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn read_session_file(path: &Path) -> Result<Vec<RecordedRequest>, RecordingError> {
    let file = match File::open(path) {
        Ok(file) => file,
        // Cleared between listing and reading.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(RecordingError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(source) => {
                return Err(RecordingError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<RecordedRequest>(&line) {
            Ok(record) => records.push(record),
            Err(error) => {
                tracing::warn!(file = %path.display(), %error, "skipped a recorded request that does not parse (torn by a crash?)")
            }
        }
    }
    // Records are written when answered; arrival order is `seq`.
    records.sort_by_key(|r| r.seq);
    Ok(records)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn sample(seq: u64, session: &str) -> RecordedRequest {
        RecordedRequest {
            id: format!("POST_{}", 1_707_389_523_456 + seq),
            session: session.into(),
            seq,
            timestamp: "2024-02-08T10:52:03.456Z".into(),
            method: "POST".into(),
            path: "/webhook/payment".into(),
            query: None,
            headers: vec![(
                "authorization".into(),
                "Bearer sk_test_0123456789abcdefghijklmn".into(),
            )],
            body: r#"{"amount":1000}"#.into(),
            body_base64: false,
            body_size: 15,
            endpoint: Some("/webhook/*".into()),
            fingerprint: Some("ab".into()),
            occurrence: Some(0),
            answered_by: Answer::Route,
            fault: None,
            scheduled_delay_ms: 0,
            response: Some(RecordedResponse {
                status: 200,
                headers: vec![],
                body: "{}".into(),
                body_base64: false,
            }),
        }
    }

    fn line(record: &RecordedRequest) -> String {
        format!("{}\n", serde_json::to_string(record).unwrap())
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_rest_read_in_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = File::create(session_file(dir.path(), "0000000000001-1")).unwrap();
        // Written in answer order: 2 was answered before 1.
        file.write_all(line(&sample(2, "0000000000001-1")).as_bytes())
            .unwrap();
        file.write_all(line(&sample(1, "0000000000001-1")).as_bytes())
            .unwrap();
        let torn = line(&sample(3, "0000000000001-1"));
        file.write_all(&torn.as_bytes()[..torn.len() / 2]).unwrap();
        drop(file);
        let records = read(dir.path(), Selection::LatestSession).unwrap();
        assert_eq!(
            records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }

    #[test]
    fn sessions_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            session_file(dir.path(), "0000000000001-1"),
            line(&sample(1, "0000000000001-1")),
        )
        .unwrap();
        std::fs::write(
            session_file(dir.path(), "0000000000002-1"),
            line(&sample(1, "0000000000002-1")),
        )
        .unwrap();
        assert_eq!(
            read(dir.path(), Selection::LatestSession).unwrap()[0].session,
            "0000000000002-1"
        );
        assert_eq!(read(dir.path(), Selection::All).unwrap().len(), 2);
        assert_eq!(
            read(dir.path(), Selection::Session("0000000000001-1".into()))
                .unwrap()
                .len(),
            1
        );
        assert!(find(dir.path(), "POST_1707389523457").unwrap().is_some());
        assert!(find(dir.path(), "GET_1").unwrap().is_none());
    }

    #[test]
    fn the_last_id_is_found_in_the_newest_sessions_tail() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(last_id_millis(dir.path()), None);
        let mut lines = Vec::new();
        for seq in [3, 1, 2] {
            crate::sandbox::json_line::write(&mut lines, &sample(seq, "0000000000001-1"));
        }
        lines.extend_from_slice(b"{\"id\":\"POST_99999999999999"); // torn
        std::fs::write(session_file(dir.path(), "0000000000001-1"), lines).unwrap();
        assert_eq!(last_id_millis(dir.path()), Some(1_707_389_523_459));
    }

    #[test]
    fn a_missing_folder_holds_no_recordings() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read(&dir.path().join("nope"), Selection::All)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn bodies_are_text_when_utf8_and_base64_otherwise() {
        assert_eq!(encode_body(b"{\"a\":1}"), ("{\"a\":1}".to_string(), false));
        let (data, base64) = encode_body(&[0xff, 0x00, 0x10]);
        assert!(base64);
        assert_eq!(decode_body(&data, true).unwrap(), vec![0xff, 0x00, 0x10]);
    }
}
