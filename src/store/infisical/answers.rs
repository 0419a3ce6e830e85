//! What the server answers, read: secrets, approvals, and error bodies in both shapes.
//!
//! Error bodies are `{"statusCode","message","error",…}`. `message` is a string, or an ARRAY of
//! issues when the request body failed validation (then the status is 401, oddly). `error` is a
//! free-form name (`"NotFound"`, `"GetSecretByName"`, `"TokenError"`): the class of a failure is
//! decided on the HTTP status alone, never on `error`.

use std::time::Duration;

use serde_json::Value;

use crate::observe::Redactor;
use crate::store::{Secret, SecretValue, StoreError};

/// The longest server text an error keeps, in characters.
const MESSAGE_LIMIT: usize = 300;

/// One HTTP answer.
pub struct Reply {
    pub status: u16,
    /// `Retry-After`, read when the answer arrived (seconds or an HTTP date).
    pub retry_after: Option<Duration>,
    pub body: bytes::Bytes,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Whether a write was accepted for review instead of applied (`{"approval": …}`).
    pub fn is_approval(&self) -> bool {
        self.json()
            .is_some_and(|v| v.get("approval").is_some_and(|a| !a.is_null()))
    }

    /// `{"secret": Secret}`.
    pub fn secret(&self) -> Option<Secret> {
        secret_of(self.json()?.get("secret")?)
    }

    /// `{"secrets": [Secret…]}`; `None` when the body has no such list.
    pub fn secrets(&self) -> Option<Vec<Secret>> {
        let json = self.json()?;
        let list = json.get("secrets")?.as_array()?;
        Some(list.iter().filter_map(secret_of).collect())
    }

    /// Whether this is the 401 of an invalid request (`message` is an array of issues), not
    /// one of bad or expired credentials.
    pub fn is_validation_failure(&self) -> bool {
        self.status == 401 && matches!(ErrorBody::parse(&self.body).message, Message::Issues(_))
    }
}

/// A secret object: `secretKey`, `secretValue`, `version` (other fields are not needed).
fn secret_of(value: &Value) -> Option<Secret> {
    Some(Secret {
        name: value.get("secretKey")?.as_str()?.to_string(),
        value: SecretValue::new(
            value
                .get("secretValue")
                .and_then(Value::as_str)
                .unwrap_or(""),
        ),
        version: value.get("version").and_then(Value::as_u64).unwrap_or(0),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    None,
    Text(String),
    /// A validation failure's issues, each as `path: message`.
    Issues(Vec<String>),
}

/// The parts of an error body a person needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub message: Message,
    /// The free-form `error` name, for the text only.
    pub error: Option<String>,
}

impl ErrorBody {
    pub fn parse(body: &[u8]) -> Self {
        let Ok(json) = serde_json::from_slice::<Value>(body) else {
            let text = String::from_utf8_lossy(body).trim().to_string();
            return Self {
                message: if text.is_empty() {
                    Message::None
                } else {
                    Message::Text(text)
                },
                error: None,
            };
        };
        let message = match json.get("message") {
            Some(Value::String(text)) => Message::Text(text.clone()),
            Some(Value::Array(issues)) => Message::Issues(issues.iter().map(issue).collect()),
            Some(Value::Null) | None => Message::None,
            Some(other) => Message::Text(other.to_string()),
        };
        let error = json
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string);
        Self { message, error }
    }

    /// One line: the message (or the issues joined), else the `error` name.
    pub fn text(&self) -> String {
        match &self.message {
            Message::Text(text) if !text.is_empty() => text.clone(),
            Message::Issues(issues) if !issues.is_empty() => issues.join("; "),
            _ => self.error.clone().unwrap_or_default(),
        }
    }
}

/// A zod issue: `{"path": ["secrets", 0, "secretKey"], "message": "Required"}` → `secrets.0.secretKey: Required`.
fn issue(value: &Value) -> String {
    let message = value
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    let path: Vec<String> = value
        .get("path")
        .and_then(Value::as_array)
        .map(|p| {
            p.iter()
                .map(|part| match part {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    if path.is_empty() {
        message
    } else {
        format!("{}: {message}", path.join("."))
    }
}

/// `text` with every secret masked, cut to [`MESSAGE_LIMIT`] characters.
pub fn masked(redactor: &Redactor, text: &str) -> String {
    let text = redactor.redact(text);
    if text.chars().count() <= MESSAGE_LIMIT {
        return text.into_owned();
    }
    let cut: String = text.chars().take(MESSAGE_LIMIT).collect();
    format!("{cut}… (cut)")
}

/// The error a failed answer stands for, by its status. `what` names the operation in words
/// (`"list of /webhooks"`); the whole text is masked.
pub fn to_error(reply: &Reply, what: &str, redactor: &Redactor) -> StoreError {
    let body = ErrorBody::parse(&reply.body);
    let detail = body.text();
    let text = if detail.is_empty() {
        format!("{what} answered {}", reply.status)
    } else {
        format!("{what} answered {}: {detail}", reply.status)
    };
    let message = masked(redactor, &text);
    match reply.status {
        401 if matches!(body.message, Message::Issues(_)) => StoreError::Invalid {
            message: format!("{message} (the request failed validation)"),
        },
        401 => StoreError::Unauthorized { message },
        403 => StoreError::Forbidden { message },
        404 => StoreError::NotFound { what: message },
        429 => StoreError::RateLimited {
            retry_after: reply.retry_after,
        },
        500..=599 => StoreError::Unavailable { message },
        _ => StoreError::Invalid { message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            retry_after: None,
            body: bytes::Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn both_message_shapes_are_read() {
        let text = ErrorBody::parse(
            br#"{"reqId":"r","statusCode":404,"message":"Secret with name 'K' not found","error":"NotFound"}"#,
        );
        assert_eq!(
            text.message,
            Message::Text("Secret with name 'K' not found".into())
        );
        assert_eq!(text.error.as_deref(), Some("NotFound"));
        let issues = ErrorBody::parse(
            br#"{"statusCode":401,"message":[{"code":"invalid_type","path":["secrets",0,"secretKey"],"message":"Required"},"plain"],"error":"ValidationFailure"}"#,
        );
        assert_eq!(
            issues.message,
            Message::Issues(vec!["secrets.0.secretKey: Required".into(), "plain".into()])
        );
        assert_eq!(issues.text(), "secrets.0.secretKey: Required; plain");
        assert_eq!(ErrorBody::parse(b"").message, Message::None);
        assert_eq!(
            ErrorBody::parse(b"<html>Bad gateway</html>").text(),
            "<html>Bad gateway</html>"
        );
        assert_eq!(
            ErrorBody::parse(br#"{"error":"TokenError"}"#).text(),
            "TokenError"
        );
    }

    #[test]
    fn the_status_decides_never_the_error_name() {
        let r = Redactor::default();
        let e = to_error(
            &reply(404, r#"{"message":"x","error":"GetSecretByName"}"#),
            "read",
            &r,
        );
        assert!(e.is_not_found(), "{e:?}");
        let e = to_error(
            &reply(401, r#"{"message":"Token expired","error":"NotFound"}"#),
            "list",
            &r,
        );
        assert_eq!(e.class(), "unauthorized");
        let e = to_error(
            &reply(
                401,
                r#"{"message":[{"message":"Required"}],"error":"ValidationFailure"}"#,
            ),
            "write",
            &r,
        );
        assert_eq!(e.class(), "invalid");
        assert!(reply(401, r#"{"message":["x"]}"#).is_validation_failure());
        assert!(
            !reply(401, r#"{"message":"x","error":"ValidationFailure"}"#).is_validation_failure()
        );
        assert_eq!(to_error(&reply(403, "{}"), "w", &r).class(), "forbidden");
        assert_eq!(to_error(&reply(400, "{}"), "w", &r).class(), "invalid");
        assert_eq!(to_error(&reply(422, "{}"), "w", &r).class(), "invalid");
        assert_eq!(to_error(&reply(502, "{}"), "w", &r).class(), "unavailable");
        let mut limited = reply(429, "{}");
        limited.retry_after = Some(Duration::from_secs(3));
        assert_eq!(
            to_error(&limited, "w", &r),
            StoreError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn error_texts_are_masked_and_cut() {
        let r = Redactor::new(["tok-123456789", "0"]);
        let e = to_error(
            &reply(
                400,
                r#"{"message":"bad token tok-123456789 value 0 in 503"}"#,
            ),
            "write of /webhooks",
            &r,
        );
        assert_eq!(
            e.to_string(),
            "invalid: write of /webhooks answered 400: bad token *** value *** in 503"
        );
        let long = "x".repeat(5000);
        let e = to_error(&reply(500, &long), "list", &r);
        assert!(e.to_string().len() < 400, "{e}");
        assert!(e.to_string().ends_with("… (cut)"));
    }

    #[test]
    fn secrets_and_approvals_are_read() {
        let r = reply(
            200,
            r#"{"secrets":[{"secretKey":"A","secretValue":"1","version":2},{"nokey":1}],"imports":[]}"#,
        );
        let secrets = r.secrets().unwrap();
        assert_eq!(secrets.len(), 1);
        assert_eq!(
            (
                secrets[0].name.as_str(),
                secrets[0].value.expose(),
                secrets[0].version
            ),
            ("A", "1", 2)
        );
        assert!(reply(200, r#"{"approval":{"id":"a"}}"#).is_approval());
        assert!(!reply(200, r#"{"secret":{"secretKey":"A"}}"#).is_approval());
        assert_eq!(
            reply(200, r#"{"secret":{"secretKey":"A","version":1}}"#)
                .secret()
                .unwrap()
                .name,
            "A"
        );
        assert!(reply(200, "not json").secrets().is_none());
    }
}
