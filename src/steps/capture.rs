//! Taking values from a response for later steps (`${steps.STEP.NAME}`).

use crate::model::{Capture, CaptureSource};

/// The captured value, or why it could not be taken.
pub fn take(
    capture: &Capture,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<String, String> {
    match &capture.source {
        CaptureSource::Status => Ok(status.to_string()),
        CaptureSource::Body => Ok(String::from_utf8_lossy(body).into_owned()),
        CaptureSource::Header(name) => headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("no header `{name}` in the response")),
        CaptureSource::Json(pointer) => {
            let document: serde_json::Value =
                serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_string())?;
            match document.pointer(pointer) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(other) => Ok(other.to_string()),
                None => Err(format!("nothing at {pointer} in the body")),
            }
        }
    }
}
