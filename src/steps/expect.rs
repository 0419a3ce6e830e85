//! Checking a response against a step's expectations: each one reported with what was
//! expected and what was found.

use crate::exec::Assertion;
use crate::model::{Expectations, ExpectedJson, HumanDuration, StatusPattern};
use std::time::Duration;

/// What a step got back, as the expectations see it.
pub struct Received<'a> {
    pub status: u16,
    /// Header names in lower case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// Requests sent.
    pub attempts: u32,
    /// Virtual time the step took.
    pub duration: Duration,
    /// The waits scheduled before each retry.
    pub delays: &'a [Duration],
}

/// Checks every expectation. `render` resolves templates in expected values.
pub fn check(
    expect: &Expectations,
    got: &Received,
    render: &dyn Fn(&crate::model::Template) -> Result<String, String>,
) -> Vec<Assertion> {
    let mut out = Vec::new();
    match &expect.status {
        Some(patterns) => {
            let expected: Vec<String> = patterns.iter().map(StatusPattern::to_string).collect();
            let passed = patterns.iter().any(|p| p.matches(got.status));
            out.push(Assertion::new(
                "status",
                expected.join(" or "),
                got.status.to_string(),
                passed,
            ));
        }
        None => out.push(Assertion::new(
            "status",
            "2xx",
            got.status.to_string(),
            (200..300).contains(&got.status),
        )),
    }
    if let Some(attempts) = expect.attempts {
        out.push(Assertion::new(
            "attempts",
            attempts.to_string(),
            got.attempts.to_string(),
            attempts == got.attempts,
        ));
    }
    for header in &expect.headers {
        let actual = got
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&header.name))
            .map(|(_, v)| v.as_str());
        let name = format!("header {}", header.name);
        match &header.value {
            None => out.push(Assertion::new(
                name,
                "present",
                actual.map_or("absent".into(), |v| format!("\"{v}\"")),
                actual.is_some(),
            )),
            Some(template) => match render(template) {
                Ok(expected) => {
                    let passed = actual == Some(expected.as_str());
                    out.push(Assertion::new(
                        name,
                        format!("\"{expected}\""),
                        actual.map_or("absent".into(), |v| format!("\"{v}\"")),
                        passed,
                    ));
                }
                Err(e) => out.push(Assertion::new(name, template.to_string(), e, false)),
            },
        }
    }
    if !expect.json.is_empty() {
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(got.body);
        for json in &expect.json {
            let name = format!("json {}", json.pointer);
            let expected = match &json.value {
                ExpectedJson::Literal(v) => Ok(v.clone()),
                ExpectedJson::Text(t) => render(t).map(serde_json::Value::String),
            };
            let expected = match expected {
                Ok(v) => v,
                Err(e) => {
                    out.push(Assertion::new(name, json.value_text(), e, false));
                    continue;
                }
            };
            let (actual, passed) = match &parsed {
                Err(_) => ("the body is not JSON".to_string(), false),
                Ok(document) => match document.pointer(&json.pointer) {
                    None => ("nothing at this pointer".to_string(), false),
                    Some(found) => (found.to_string(), json_equal(found, &expected)),
                },
            };
            out.push(Assertion::new(name, expected.to_string(), actual, passed));
        }
    }
    for needle in &expect.body_contains {
        let text = String::from_utf8_lossy(got.body);
        let passed = text.contains(needle.as_str());
        let actual = if passed {
            "found".to_string()
        } else {
            format!("not found in {} bytes", got.body.len())
        };
        out.push(Assertion::new(
            "body contains",
            format!("\"{needle}\""),
            actual,
            passed,
        ));
    }
    if let Some(delays) = &expect.delays {
        let show = |d: &[Duration]| {
            if d.is_empty() {
                "no retry".to_string()
            } else {
                d.iter()
                    .map(|d| HumanDuration(*d).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        out.push(Assertion::new(
            "delays",
            show(delays),
            show(got.delays),
            delays.as_slice() == got.delays,
        ));
    }
    if let Some(limit) = expect.duration_below {
        let passed = got.duration < limit;
        out.push(Assertion::new(
            "duration below",
            HumanDuration(limit).to_string(),
            HumanDuration(got.duration).to_string(),
            passed,
        ));
    }
    out
}

/// JSON equality where numbers compare by value (`1000` equals `1000.0`).
fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a, b) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

impl crate::model::JsonExpectation {
    fn value_text(&self) -> String {
        match &self.value {
            ExpectedJson::Literal(v) => v.to_string(),
            ExpectedJson::Text(t) => t.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HeaderExpectation, JsonExpectation, Span, Template};

    fn received(status: u16, body: &'static [u8]) -> Received<'static> {
        static HEADERS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
        let headers =
            HEADERS.get_or_init(|| vec![("content-type".into(), "application/json".into())]);
        Received {
            status,
            headers,
            body,
            attempts: 3,
            duration: Duration::from_millis(1500),
            delays: &[],
        }
    }

    fn render(t: &Template) -> Result<String, String> {
        t.as_literal().ok_or_else(|| "unresolved".into())
    }

    #[test]
    fn without_a_status_expectation_only_2xx_passes() {
        let a = check(&Expectations::default(), &received(201, b""), &render);
        assert!(a[0].passed);
        let a = check(&Expectations::default(), &received(302, b""), &render);
        assert_eq!(a[0], Assertion::new("status", "2xx", "302", false));
    }

    #[test]
    fn every_expectation_reports_expected_and_actual() {
        let expect = Expectations {
            status: Some(vec![StatusPattern::Code(200), StatusPattern::Class(3)]),
            attempts: Some(2),
            headers: vec![
                HeaderExpectation {
                    name: "content-type".into(),
                    value: Some(Template::literal("application/json", Span::default())),
                },
                HeaderExpectation {
                    name: "x-id".into(),
                    value: None,
                },
            ],
            json: vec![
                JsonExpectation {
                    pointer: "/amount".into(),
                    value: ExpectedJson::Literal(1000.into()),
                },
                JsonExpectation {
                    pointer: "/status".into(),
                    value: ExpectedJson::Text(Template::literal("succeeded", Span::default())),
                },
                JsonExpectation {
                    pointer: "/missing".into(),
                    value: ExpectedJson::Literal(true.into()),
                },
            ],
            body_contains: vec!["succeeded".into()],
            duration_below: Some(Duration::from_secs(1)),
            delays: Some(vec![Duration::from_secs(2)]),
        };
        let got = received(200, br#"{"amount": 1000.0, "status": "succeeded"}"#);
        let results: Vec<(String, bool)> = check(&expect, &got, &render)
            .into_iter()
            .map(|a| (a.name, a.passed))
            .collect();
        assert_eq!(
            results,
            vec![
                ("status".into(), true),
                ("attempts".into(), false),
                ("header content-type".into(), true),
                ("header x-id".into(), false),
                ("json /amount".into(), true),
                ("json /status".into(), true),
                ("json /missing".into(), false),
                ("body contains".into(), true),
                ("delays".into(), false),
                ("duration below".into(), false),
            ]
        );
    }
}
