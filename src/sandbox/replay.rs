//! Sending a recorded request again: same method, headers (raw, credentials included) and
//! body, to the sandbox it came from or to another URL.

use super::masking;
use super::recording::RecordedRequest;
use std::time::{Duration, Instant};
use url::Url;

/// Headers that describe one hop or are recomputed by the client, never copied.
const NOT_REPLAYED: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "accept-encoding",
];

/// The answer to a replayed request.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub url: Url,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("\"{0}\" is not an http(s) URL")]
    BadUrl(String),
    #[error("could not replay to {url}: {reason}")]
    Send { url: String, reason: String },
}

/// Where a replay goes. A URL with a path is used as it is (`--url https://api.example.com/hook`);
/// one without (`http://127.0.0.1:9000`) gets the recorded path and query.
pub fn target(record: &RecordedRequest, url: &str) -> Result<Url, ReplayError> {
    let mut parsed = Url::parse(url).map_err(|_| ReplayError::BadUrl(url.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(ReplayError::BadUrl(url.to_string()));
    }
    if parsed.path() == "/" && parsed.query().is_none() && !url.trim_end().ends_with("/") {
        parsed.set_path(&record.path);
        parsed.set_query(record.query.as_deref());
    }
    Ok(parsed)
}

/// A URL as it may be shown: password and credential query values masked.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("…"));
    }
    if let Some(query) = url.query() {
        shown.set_query(Some(&masking::query(query)));
    }
    shown.to_string()
}

/// Sends the recorded request to `url` and returns the answer (whatever its status).
pub async fn replay(
    record: &RecordedRequest,
    url: &Url,
    timeout: Duration,
) -> Result<Replayed, ReplayError> {
    let send_error = |reason: String| ReplayError::Send {
        url: display_url(url),
        reason,
    };
    let client = crate::http_client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| send_error(describe(&e)))?;
    let method = reqwest::Method::from_bytes(record.method.as_bytes())
        .map_err(|_| send_error(format!("\"{}\" is not an HTTP method", record.method)))?;
    let mut request = client.request(method, url.clone());
    for (name, value) in &record.headers {
        if !NOT_REPLAYED.contains(&name.to_ascii_lowercase().as_str()) {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    let body = record.body_bytes();
    if !body.is_empty() {
        request = request.body(body);
    }
    let started = Instant::now();
    let response = request.send().await.map_err(|e| send_error(describe(&e)))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .bytes()
        .await
        .map_err(|e| send_error(describe(&e)))?
        .to_vec();
    Ok(Replayed {
        url: url.clone(),
        status,
        headers,
        body,
        elapsed: started.elapsed(),
    })
}

/// The reason in words, without the URL (which may hold credentials).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "it timed out".into();
    }
    if error.is_connect() {
        return "could not connect (is anything listening there?)".into();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text = inner.to_string();
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::recording::tests::sample;

    #[test]
    fn a_bare_url_gets_the_recorded_path_and_a_full_one_is_kept() {
        let mut record = sample(1, "s");
        record.query = Some("a=1".into());
        assert_eq!(
            target(&record, "http://127.0.0.1:9000").unwrap().as_str(),
            "http://127.0.0.1:9000/webhook/payment?a=1"
        );
        assert_eq!(
            target(&record, "https://api.example.com/v1/charges")
                .unwrap()
                .as_str(),
            "https://api.example.com/v1/charges"
        );
        assert_eq!(
            target(&record, "https://api.example.com/")
                .unwrap()
                .as_str(),
            "https://api.example.com/"
        );
        assert!(target(&record, "ftp://x/y").is_err());
        assert!(target(&record, "not a url").is_err());
    }

    #[test]
    fn displayed_urls_hide_credentials() {
        let url =
            Url::parse("https://user:hunter2hunter2@example.com/x?token=tok_0123456789abcdef")
                .unwrap();
        let shown = display_url(&url);
        assert!(
            !shown.contains("hunter2") && !shown.contains("0123456789abcdef"),
            "{shown}"
        );
    }
}
