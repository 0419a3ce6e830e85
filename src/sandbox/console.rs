//! What people see: the start banner, one block per request, the requests table and a
//! request's details, in the spec's style. Every credential is masked here.

use super::config::{Delay, SandboxConfig};
use super::masking;
use super::recording::{self, Answer, Fault, RecordedRequest};
use super::routes::DEFAULT_ROUTES;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, TableStyle};
use comfy_table::{ContentLineStyle, LineStyle};
use std::fmt::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// Bodies longer than this are cut in displays.
const BODY_DISPLAY_LIMIT: usize = 4096;

/// The table style of the spec: a heavy header over light rows.
pub const TABLE_STYLE: TableStyle = TableStyle::new()
    .top_border(LineStyle::new('┏', '━', '┳', '┓'))
    .header_lines(ContentLineStyle::new('┃', '┃', '┃'))
    .header_separator(LineStyle::new('┡', '━', '╇', '┩'))
    .content_lines(ContentLineStyle::new('│', '│', '│'))
    .bottom_border(LineStyle::new('└', '─', '┴', '┘'));

/// The URL shown in the banner: `localhost` for loopback, as the spec; the address itself
/// otherwise, a wildcard (`0.0.0.0`, `::`) included, so that nobody mistakes a sandbox open
/// to the network for a local one.
pub fn server_url(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() {
        format!("http://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

/// The banner's warning for a sandbox that other machines can reach, if it is one.
pub fn exposure_warning(addr: SocketAddr) -> Option<String> {
    if addr.ip().is_loopback() {
        return None;
    }
    let reach = if addr.ip().is_unspecified() {
        format!(
            "listening on every interface ({}), so other machines can reach it (on this machine: http://localhost:{})",
            addr.ip(),
            addr.port()
        )
    } else {
        format!(
            "listening on {}, an address other machines can reach",
            addr.ip()
        )
    };
    Some(format!(
        "Warning: {reach}; its recordings hold the raw credentials they are sent. Bind 127.0.0.1 (the default) to keep it local."
    ))
}

/// The banner printed once the sandbox listens.
pub fn banner(config: &SandboxConfig, addr: SocketAddr, time_scale: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Webhook Sandbox Started");
    let _ = writeln!(out, "Server: {}", server_url(addr));
    if let Some(warning) = exposure_warning(addr) {
        let _ = writeln!(out, "{warning}");
    }
    let _ = writeln!(out, "Error rate: {:.1}%", config.error_rate * 100.0);
    let _ = writeln!(out, "Delay: {}", delay_text(config.delay));
    if config.seed != 0 {
        let _ = writeln!(out, "Seed: {}", config.seed);
    }
    if time_scale != 1.0 {
        let _ = writeln!(out, "Time scale: {time_scale}");
    }
    let _ = writeln!(out, "Available endpoints:");
    for (path, what) in DEFAULT_ROUTES {
        let _ = writeln!(out, "{path} - {what}");
    }
    if let Some(infisical) = &config.infisical {
        let _ = writeln!(
            out,
            "{} - Infisical emulation",
            super::infisical::ROUTE_KEYS.join(", ")
        );
        out.push_str(&infisical_lines(infisical));
    }
    for endpoint in &config.endpoints {
        let mut what = Vec::new();
        what.extend(endpoint.method.clone());
        if !endpoint.sequence.is_empty() {
            what.push("sequence".to_string());
        } else {
            what.push(endpoint.response.status.unwrap_or(200).to_string());
        }
        what.extend(endpoint.response.fault.map(|f| f.as_str().to_string()));
        let _ = writeln!(
            out,
            "{} - Configured endpoint ({})",
            endpoint.path,
            what.join(", ")
        );
    }
    let _ = writeln!(out, "Press Ctrl+C to stop");
    out
}

/// The banner's lines about an Infisical emulation; the client secret is never shown.
fn infisical_lines(config: &super::infisical::InfisicalConfig) -> String {
    let api = match config.api {
        crate::model::InfisicalApi::V3 => "v3 raw only (/api/v4/* answers 404)",
        crate::model::InfisicalApi::V4 => "v4 only (/api/v3/* answers 404)",
        crate::model::InfisicalApi::Both => "v4 and v3 raw",
    };
    let mut out = String::new();
    let _ = writeln!(out, "  Infisical API: {api}");
    let _ = writeln!(
        out,
        "  Project: {}  Environment: {}",
        config.project, config.environment
    );
    let _ = writeln!(
        out,
        "  Identity: client-id {}  client-secret {}",
        config.client_id,
        crate::observe::MASK
    );
    let _ = writeln!(
        out,
        "  Token TTL: {}  (max {})  Approvals: {}",
        crate::model::HumanDuration(config.token_ttl),
        crate::model::HumanDuration(config.token_max_ttl),
        if config.approval_required {
            "required (writes answer {\"approval\": …} and are not applied)"
        } else {
            "off"
        }
    );
    if config.faults_after_write > 0.0 {
        let _ = writeln!(
            out,
            "  Faults after write: {:.0}% of the faults drawn for writes",
            config.faults_after_write * 100.0
        );
    }
    out
}

/// `0.0s`, `1.5s`, `0.25s`, or a range `0.1s–0.3s`.
pub fn delay_text(delay: Option<Delay>) -> String {
    match delay {
        None => "0.0s".into(),
        Some(d) if d.is_fixed() => seconds(d.min),
        Some(d) => format!("{}–{}", seconds(d.min), seconds(d.max)),
    }
}

fn seconds(duration: Duration) -> String {
    let text = format!("{:.3}", duration.as_secs_f64());
    let trimmed = text.trim_end_matches('0');
    if trimmed.ends_with('.') {
        format!("{trimmed}0s")
    } else {
        format!("{trimmed}s")
    }
}

pub use crate::http_client::status_text;

/// The console block for one request.
pub fn request_block(record: &RecordedRequest) -> String {
    let masker = masker(record);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}",
        record.method,
        masker.path_and_query(&record.path, record.query.as_deref())
    );
    let _ = writeln!(out, "Request ID: {}", record.id);
    if let Some(auth) = record.header("authorization") {
        let _ = writeln!(out, "Auth: {}", masking::mask(auth));
    }
    if let Some(body) = body_text(&record.body_bytes(), record.header("content-type"), &masker) {
        let _ = writeln!(out, "Body: {body}");
    }
    if let Answer::Rejected { reason } = &record.answered_by {
        let _ = writeln!(out, "Rejected: {reason}");
    }
    if let Some(fault) = fault_text(record) {
        let _ = writeln!(out, "Fault: {fault}");
    }
    if record.scheduled_delay_ms > 0 {
        let _ = writeln!(
            out,
            "Delay: {}",
            seconds(Duration::from_millis(record.scheduled_delay_ms))
        );
    }
    let _ = writeln!(out, "Response: {}", response_text(record));
    out
}

fn fault_text(record: &RecordedRequest) -> Option<String> {
    Some(match record.fault? {
        Fault::ErrorRate => "injected error (error rate)".to_string(),
        Fault::Reset => "connection reset".to_string(),
        Fault::Close => "connection closed without a response".to_string(),
        Fault::Hang => "no response (hang)".to_string(),
        Fault::SlowBody => "slow body".to_string(),
    })
}

fn response_text(record: &RecordedRequest) -> String {
    match (&record.response, record.fault) {
        (Some(response), _) => status_text(response.status),
        (None, Some(fault)) => format!("none ({})", fault.as_str()),
        (None, None) => "none".into(),
    }
}

/// What displays of this request must mask (its credentials, wherever they turn up).
pub fn masker(record: &RecordedRequest) -> masking::Masker {
    masking::Masker::for_request(&record.headers, record.query.as_deref())
}

/// A body as displayed: pretty JSON, form or multipart text, other text, or a size for
/// binary, with credential fields and `masker`'s secrets masked; `None` when empty.
pub fn body_text(
    bytes: &[u8],
    content_type: Option<&str>,
    masker: &masking::Masker,
) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    let looks_json = content_type.is_some_and(|c| c.contains("json"))
        || matches!(bytes.first(), Some(b'{' | b'['));
    if looks_json && let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        masker.json(&mut value);
        let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
        return Some(cut(&pretty));
    }
    let bytes = masker.body(bytes, content_type);
    match std::str::from_utf8(&bytes) {
        Ok(text) => Some(cut(text)),
        Err(_) => Some(format!("({} bytes, binary)", bytes.len())),
    }
}

fn cut(text: &str) -> String {
    if text.len() <= BODY_DISPLAY_LIMIT {
        return text.to_string();
    }
    let mut end = BODY_DISPLAY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &text[..end], text.len() - end)
}

/// The spec's table of recorded requests.
pub fn requests_table(records: &[RecordedRequest]) -> String {
    let mut table = Table::new();
    table
        .load_style(TABLE_STYLE)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty();
    table.set_header(vec![
        "Request ID",
        "Timestamp",
        "Method",
        "Path",
        "Body Size",
    ]);
    for record in records {
        table.add_row(vec![
            Cell::new(&record.id),
            Cell::new(local_time(&record.timestamp)),
            Cell::new(&record.method),
            Cell::new(masker(record).path_and_query(&record.path, record.query.as_deref())),
            Cell::new(record.body_size).set_alignment(CellAlignment::Right),
        ]);
    }
    format!("{table}\n")
}

/// `2026-02-08 14:30:00` in local time.
pub fn local_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(at) => at
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// Everything about one request, credentials masked.
pub fn details(record: &RecordedRequest) -> String {
    let masker = masker(record);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}",
        record.method,
        masker.path_and_query(&record.path, record.query.as_deref())
    );
    let _ = writeln!(out, "Request ID: {}", record.id);
    let _ = writeln!(out, "Session: {}", record.session);
    let _ = writeln!(
        out,
        "Timestamp: {} ({})",
        local_time(&record.timestamp),
        record.timestamp
    );
    let _ = writeln!(
        out,
        "Endpoint: {}",
        record.endpoint.as_deref().unwrap_or("none (404)")
    );
    let _ = writeln!(out, "Answered by: {}", answer_text(&record.answered_by));
    if let (Some(fingerprint), Some(occurrence)) = (&record.fingerprint, record.occurrence) {
        let _ = writeln!(
            out,
            "Fingerprint: {} (occurrence {occurrence})",
            &fingerprint[..fingerprint.len().min(16)]
        );
    }
    if let Some(fault) = fault_text(record) {
        let _ = writeln!(out, "Fault: {fault}");
    }
    if record.scheduled_delay_ms > 0 {
        let _ = writeln!(
            out,
            "Delay: {} (scheduled)",
            seconds(Duration::from_millis(record.scheduled_delay_ms))
        );
    }
    let _ = writeln!(out, "Headers:");
    for (name, value) in &record.headers {
        let _ = writeln!(out, "  {name}: {}", masker.header_value(name, value));
    }
    let _ = writeln!(out, "Body ({} bytes):", record.body_size);
    if let Some(body) = body_text(&record.body_bytes(), record.header("content-type"), &masker) {
        let _ = writeln!(out, "{body}");
    }
    let _ = writeln!(out, "Response: {}", response_text(record));
    if let Some(response) = &record.response {
        for (name, value) in &response.headers {
            let _ = writeln!(out, "  {name}: {}", masker.header_value(name, value));
        }
        let content_type = response
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str());
        if let Some(body) = body_text(&response.body_bytes(), content_type, &masker) {
            let _ = writeln!(out, "{body}");
        }
    }
    out
}

fn answer_text(answer: &Answer) -> String {
    match answer {
        Answer::Route => "default route".into(),
        Answer::Endpoint => "configured endpoint".into(),
        Answer::Sequence { entry } => format!("respond sequence, entry {entry}"),
        Answer::Every { n } => format!("every {n}th request"),
        Answer::NotFound => "no route (404)".into(),
        Answer::Rejected { reason } => format!("rejected: {reason}"),
        Answer::Infisical {
            wrote,
            fault_after_write,
        } => {
            let mut text = "Infisical emulation".to_string();
            if *wrote {
                text.push_str(" (write applied)");
            }
            if *fault_after_write {
                text.push_str(", then a fault lost the answer");
            }
            text
        }
    }
}

/// A record as JSON for `--json`: complete, but with credential headers, query values, form,
/// multipart and JSON body fields, and the request's own credentials wherever they turn up
/// again, masked.
pub fn masked_json(record: &RecordedRequest) -> serde_json::Value {
    let masker = masker(record);
    let mut shown = record.clone();
    shown.path = masker.text(&shown.path).into_owned();
    shown.query = shown.query.as_deref().map(|q| masker.query(q));
    for (name, value) in shown.headers.iter_mut() {
        *value = masker.header_value(name, value).into_owned();
    }
    let content_type = record.header("content-type");
    (shown.body, shown.body_base64) =
        masked_body(&record.body, record.body_base64, content_type, &masker);
    if let Some(response) = shown.response.as_mut() {
        for (name, value) in response.headers.iter_mut() {
            *value = masker.header_value(name, value).into_owned();
        }
        let content_type = response
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.clone());
        (response.body, response.body_base64) = masked_body(
            &response.body,
            response.body_base64,
            content_type.as_deref(),
            &masker,
        );
    }
    serde_json::to_value(&shown).unwrap_or_default()
}

/// A recorded body (text, or base64) with its credentials masked, in the same form; a JSON
/// body stays compact, and as it was if nothing in it is a credential.
fn masked_body(
    body: &str,
    base64: bool,
    content_type: Option<&str>,
    masker: &masking::Masker,
) -> (String, bool) {
    if !base64
        && let Ok(mut value) = serde_json::from_str::<serde_json::Value>(body)
        && (value.is_object() || value.is_array())
    {
        let before = value.clone();
        masker.json(&mut value);
        return if value == before {
            (body.to_string(), false)
        } else {
            (value.to_string(), false)
        };
    }
    let Ok(bytes) = recording::decode_body(body, base64) else {
        return (body.to_string(), base64);
    };
    match masker.body(&bytes, content_type) {
        std::borrow::Cow::Borrowed(_) => (body.to_string(), base64),
        std::borrow::Cow::Owned(masked) => recording::encode_body(&masked),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::recording::tests::sample;

    #[test]
    fn the_banner_is_the_specs() {
        let config = SandboxConfig {
            error_rate: 0.2,
            ..Default::default()
        };
        let banner = banner(&config, "127.0.0.1:8888".parse().unwrap(), 1.0);
        assert_eq!(
            banner,
            "Webhook Sandbox Started\nServer: http://localhost:8888\nError rate: 20.0%\nDelay: 0.0s\nAvailable endpoints:\n\
             /webhook/* - Any webhook path\n/test - Test endpoint\n/api/* - API simulation\nPress Ctrl+C to stop\n"
        );
    }

    #[test]
    fn a_wildcard_bind_is_shown_as_it_is_with_a_warning() {
        let config = SandboxConfig::default();
        for (addr, server) in [
            ("0.0.0.0:8888", "Server: http://0.0.0.0:8888\n"),
            ("[::]:8888", "Server: http://[::]:8888\n"),
            ("192.168.1.20:8888", "Server: http://192.168.1.20:8888\n"),
        ] {
            let banner = banner(&config, addr.parse().unwrap(), 1.0);
            assert!(banner.contains(server), "{banner}");
            assert!(!banner.contains("localhost:8888\n"), "{banner}");
            let warning = banner
                .lines()
                .find(|l| l.starts_with("Warning: "))
                .unwrap_or_else(|| panic!("no warning in {banner}"));
            assert!(
                warning.contains("other machines can reach") && warning.contains("raw credentials"),
                "{warning}"
            );
        }
        assert!(
            banner(&config, "0.0.0.0:8888".parse().unwrap(), 1.0)
                .contains("on this machine: http://localhost:8888")
        );
        for addr in ["127.0.0.1:8888", "[::1]:8888"] {
            let banner = banner(&config, addr.parse().unwrap(), 1.0);
            assert!(
                banner.contains("Server: http://localhost:8888\n"),
                "{banner}"
            );
            assert!(!banner.contains("Warning"), "{banner}");
        }
    }

    #[test]
    fn delays_read_as_seconds() {
        assert_eq!(
            delay_text(Some(Delay::fixed(Duration::from_millis(1500)))),
            "1.5s"
        );
        assert_eq!(
            delay_text(Some(Delay::fixed(Duration::from_millis(250)))),
            "0.25s"
        );
        assert_eq!(
            delay_text(Some(Delay::fixed(Duration::from_secs(3)))),
            "3.0s"
        );
        assert_eq!(
            delay_text(Some(
                Delay::range(Duration::from_millis(100), Duration::from_millis(300)).unwrap()
            )),
            "0.1s–0.3s"
        );
    }

    #[test]
    fn a_request_block_masks_the_authorization_and_pretty_prints_json() {
        let block = request_block(&sample(1, "s"));
        assert_eq!(
            block,
            "POST /webhook/payment\nRequest ID: POST_1707389523457\nAuth: Bearer sk_test_…\nBody: {\n  \"amount\": 1000\n}\nResponse: 200 OK\n"
        );
        assert!(!block.contains("0123456789abcdef"));
    }

    #[test]
    fn the_table_has_a_heavy_header_and_the_specs_columns() {
        let table = requests_table(&[sample(1, "s")]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with('┏') && lines[0].ends_with('┓'),
            "{table}"
        );
        assert!(
            lines[1].starts_with("┃ Request ID") && lines[1].contains("┃ Body Size ┃"),
            "{table}"
        );
        assert!(lines[2].starts_with('┡'), "{table}");
        assert!(
            lines[3].starts_with("│ POST_1707389523457 │")
                && lines[3].contains("│ POST   │ /webhook/payment │"),
            "{table}"
        );
        assert!(lines[4].starts_with('└'), "{table}");
    }

    #[test]
    fn details_and_json_never_show_credentials() {
        let mut record = sample(1, "s");
        record.query = Some("token=tok_0123456789abcdef".into());
        record
            .headers
            .push(("x-api-key".into(), "key_0123456789abcdef".into()));
        record.body = r#"{"password":"0123456789abcdef"}"#.into();
        let details = details(&record);
        let json = masked_json(&record).to_string();
        for text in [&details, &json] {
            assert!(!text.contains("0123456789abcdef"), "{text}");
        }
        assert!(details.contains("x-api-key: key_0…"), "{details}");
    }

    #[test]
    fn form_multipart_and_echoed_credentials_are_masked_in_blocks_details_and_json() {
        let mut record = sample(1, "s");
        record.query = Some("api_key=0123456789abcdef".into());
        record.headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        record
            .headers
            .push(("x-echo".into(), "sk_test_0123456789abcdefghijklmn".into()));
        record.body =
            "password=hunter2hunter2&client_secret=ss&echo=sk_test_0123456789abcdefghijklmn".into();
        let block = request_block(&record);
        assert!(
            block.contains("Body: password=***&client_secret=***&echo=sk_test_…\n"),
            "{block}"
        );
        let details = details(&record);
        assert!(details.contains("x-echo: sk_test_…\n"), "{details}");
        let json = masked_json(&record);
        assert_eq!(
            json["body"],
            "password=***&client_secret=***&echo=sk_test_…"
        );
        for text in [&block, &details, &json.to_string()] {
            for secret in ["hunter2", "client_secret=ss", "0123456789abcdef"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }

        // A multipart body that is not UTF-8 is recorded as base64; its JSON is masked too.
        let mut body =
            b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n\xff\xfe\r\n".to_vec();
        body.extend_from_slice(
            b"--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\ntok_0123456789abcdef\r\n--b--\r\n",
        );
        let mut record = sample(2, "s");
        record.headers = vec![(
            "content-type".into(),
            "multipart/form-data; boundary=b".into(),
        )];
        (record.body, record.body_base64) = recording::encode_body(&body);
        assert!(record.body_base64);
        let json = masked_json(&record);
        let shown = recording::decode_body(json["body"].as_str().unwrap(), true).unwrap();
        let shown = String::from_utf8_lossy(&shown);
        assert!(shown.contains("\r\n\r\ntok_0…\r\n--b--"), "{shown}");
        assert!(!shown.contains("tok_0123456789abcdef"), "{shown}");
        assert!(super::details(&record).contains("binary"));
    }
}
