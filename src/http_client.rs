//! The HTTP client every runner uses: rustls with ring, TLS verification on, an optional CA bundle.

use std::path::Path;
use std::sync::Once;

/// rustls needs its crypto provider chosen once per process before any client is built.
pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider was installed first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with hookplan's defaults: no redirects followed silently beyond 5,
/// a user agent naming the tool, TLS verification on, and no retries of its own: reqwest
/// would otherwise resend a request an HTTP/2 server refused (REFUSED_STREAM, a graceful
/// GOAWAY) out of sight of the retry policy, and every request sent must be an attempt.
pub fn builder() -> reqwest::ClientBuilder {
    install_crypto();
    reqwest::Client::builder()
        .user_agent(concat!("hookplan/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(5))
        .retry(reqwest::retry::never())
}

/// Adds the certificates of a PEM bundle as trusted roots (for servers with a private CA).
pub fn with_ca_bundle(
    builder: reqwest::ClientBuilder,
    path: &Path,
) -> Result<reqwest::ClientBuilder, String> {
    let pem = std::fs::read(path).map_err(|e| {
        format!(
            "cannot read CA bundle {}: {}",
            path.display(),
            crate::io_error::describe(&e)
        )
    })?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| {
        format!(
            "CA bundle {} holds no valid PEM certificate",
            path.display()
        )
    })?;
    if certificates.is_empty() {
        return Err(format!("CA bundle {} holds no certificate", path.display()));
    }
    Ok(certificates
        .into_iter()
        .fold(builder, |b, c| b.add_root_certificate(c)))
}

/// `200 OK`, `503 Service Unavailable`; a code without a standard reason phrase alone.
pub fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// The innermost cause of a request error, in words (reqwest's own text names the URL, which
/// may carry a credential; the innermost cause does not).
pub fn innermost_cause(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        text = e.to_string();
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An HTTP/2 server (cleartext, prior knowledge) that refuses every stream it is sent.
    async fn refusing_server() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let streams = Arc::new(AtomicUsize::new(0));
        let counted = streams.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let counted = counted.clone();
                tokio::spawn(async move {
                    let Ok(mut connection) = h2::server::handshake(socket).await else {
                        return;
                    };
                    while let Some(Ok((_request, mut respond))) = connection.accept().await {
                        counted.fetch_add(1, Ordering::SeqCst);
                        respond.send_reset(h2::Reason::REFUSED_STREAM);
                    }
                });
            }
        });
        (url, streams)
    }

    #[tokio::test]
    async fn a_refused_http2_request_is_sent_once() {
        let (url, streams) = refusing_server().await;
        let client = builder().http2_prior_knowledge().build().unwrap();
        let result = client.get(&url).send().await;
        assert!(result.is_err(), "a refused stream is an error: {result:?}");
        assert_eq!(
            streams.load(Ordering::SeqCst),
            1,
            "the client resent the request on its own"
        );
    }
}
