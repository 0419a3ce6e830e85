//! Infisical's error bodies: `{"reqId", "statusCode", "message", "error"}`, where `message`
//! is a string, or for an invalid request an array of issues (zod's shape) under
//! `"error": "ValidationFailure"` and status 401.

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub error: &'static str,
    pub message: Message,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Text(String),
    Issues(Vec<Value>),
}

impl ApiError {
    pub fn new(status: u16, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            message: Message::Text(message.into()),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "UnauthorizedError", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NotFound", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "PermissionDenied", message)
    }

    /// An invalid request: 401 with the issues, as Infisical answers it.
    pub fn validation(issues: Vec<Value>) -> Self {
        Self {
            status: 401,
            error: "ValidationFailure",
            message: Message::Issues(issues),
        }
    }

    /// What the server's router answers for a route it does not have (an API version it does
    /// not serve, among others).
    pub fn no_route(method: &str, path_and_query: &str) -> Self {
        Self::not_found(format!("Route {method}:{path_and_query} not found"))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalServerError", message)
    }

    pub fn message_text(&self) -> String {
        match &self.message {
            Message::Text(text) => text.clone(),
            Message::Issues(issues) => Value::Array(issues.clone()).to_string(),
        }
    }

    pub fn body(&self, request_id: &str) -> Value {
        let message = match &self.message {
            Message::Text(text) => Value::String(text.clone()),
            Message::Issues(issues) => Value::Array(issues.clone()),
        };
        json!({
            "reqId": request_id,
            "statusCode": self.status,
            "message": message,
            "error": self.error,
        })
    }
}

/// Collects a request's issues the way zod reports them: every problem at once, each with
/// the path of the field.
#[derive(Default)]
pub struct Issues(Vec<Value>);

impl Issues {
    /// A required field that is missing or has another type.
    pub fn wrong_type(&mut self, path: &[Value], expected: &str, found: Option<&Value>) {
        let received = match found {
            None => "undefined",
            Some(Value::Null) => "null",
            Some(Value::Bool(_)) => "boolean",
            Some(Value::Number(_)) => "number",
            Some(Value::String(_)) => "string",
            Some(Value::Array(_)) => "array",
            Some(Value::Object(_)) => "object",
        };
        let message = if found.is_none() {
            "Required".to_string()
        } else {
            format!("Expected {expected}, received {received}")
        };
        self.0.push(json!({
            "code": "invalid_type",
            "expected": expected,
            "received": received,
            "path": path,
            "message": message,
        }));
    }

    /// Any other problem with a field's value.
    pub fn custom(&mut self, path: &[Value], message: impl Into<String>) {
        self.0.push(json!({
            "code": "custom",
            "message": message.into(),
            "path": path,
        }));
    }

    pub fn invalid_enum(&mut self, path: &[Value], options: &[&str], found: &str) {
        self.0.push(json!({
            "received": found,
            "code": "invalid_enum_value",
            "options": options,
            "path": path,
            "message": format!(
                "Invalid enum value. Expected {}, received '{found}'",
                options.iter().map(|o| format!("'{o}'")).collect::<Vec<_>>().join(" | ")
            ),
        }));
    }

    pub fn too_small(&mut self, path: &[Value], minimum: usize, what: &str) {
        self.0.push(json!({
            "code": "too_small",
            "minimum": minimum,
            "type": what,
            "inclusive": true,
            "exact": false,
            "message": format!("{} must contain at least {minimum} element(s)", if what == "array" { "Array" } else { "String" }),
            "path": path,
        }));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err` with every issue when there is one.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_request_is_a_401_whose_message_is_an_array() {
        let mut issues = Issues::default();
        issues.wrong_type(&[json!("secretValue")], "string", None);
        let error = issues.finish().unwrap_err();
        let body = error.body("req-1");
        assert_eq!(body["statusCode"], 401);
        assert_eq!(body["error"], "ValidationFailure");
        assert_eq!(body["message"][0]["path"], json!(["secretValue"]));
        assert_eq!(body["message"][0]["message"], "Required");
        assert_eq!(body["reqId"], "req-1");
    }
}
