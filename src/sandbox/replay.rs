//! Where a recorded request is sent again, and how that address is shown. The sending itself
//! is the `replay` step (`steps::replay`), for plans and `hookplan sandbox replay` alike.

use super::masking;
use super::recording::RecordedRequest;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("\"{0}\" is not an http(s) URL")]
    BadUrl(String),
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
