//! Which webhooks a migration, verify, status or backup covers, and the store names their
//! credentials go to.

use crate::model::StoreDecl;
use crate::registry::{Direction, Field, Webhook};
use crate::store::SecretValue;

/// The credential fields that move to a store, in the order they are reported.
pub const CREDENTIAL_FIELDS: [Field; 4] = [
    Field::User,
    Field::Key,
    Field::Password,
    Field::SigningSecret,
];

/// The spec's filters: a direction, one webhook by code, or a glob over codes.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// `None`: every direction (`status`'s default). A webhook without a direction is `OUT`.
    pub direction: Option<Direction>,
    /// One webhook, whatever its direction (the spec's `--webhook CODE`).
    pub webhook: Option<String>,
    pub pattern: Option<glob::Pattern>,
}

impl Selection {
    /// `pattern` is a glob (`STRIPE_*`); a bad one is an error for people.
    pub fn new(
        direction: Option<Direction>,
        webhook: Option<String>,
        pattern: Option<&str>,
    ) -> Result<Self, String> {
        let pattern = pattern
            .map(|p| {
                glob::Pattern::new(p)
                    .map_err(|e| format!("\"{p}\" is not a pattern of webhook codes: {e}"))
            })
            .transpose()?;
        Ok(Self {
            direction,
            webhook,
            pattern,
        })
    }

    pub fn matches(&self, webhook: &Webhook) -> bool {
        if let Some(code) = &self.webhook {
            return webhook.code == *code;
        }
        let direction = webhook.direction.unwrap_or(Direction::Out);
        self.direction.is_none_or(|d| d == direction)
            && self
                .pattern
                .as_ref()
                .is_none_or(|p| p.matches(&webhook.code))
    }

    /// The selection in words, for summaries and for binding a preview to it:
    /// `direction=OUT pattern=STRIPE_*`, `webhook=STRIPE_PAYMENT`, `all`.
    pub fn describe(&self) -> String {
        if let Some(code) = &self.webhook {
            return format!("webhook={code}");
        }
        let mut parts = Vec::new();
        if let Some(d) = self.direction {
            parts.push(format!("direction={d}"));
        }
        if let Some(p) = &self.pattern {
            parts.push(format!("pattern={}", p.as_str()));
        }
        if parts.is_empty() {
            "all".to_string()
        } else {
            parts.join(" ")
        }
    }
}

/// One credential of a webhook as it would live in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub field: Field,
    /// Its name in the store (`WEBHOOK_OUT_STRIPE_PAYMENT_KEY`).
    pub name: String,
    pub value: SecretValue,
}

/// The credentials a webhook has in its row (non-blank ones), each with its name in `store`.
pub fn targets(store: &StoreDecl, webhook: &Webhook) -> Vec<Target> {
    let direction = webhook.direction.unwrap_or(Direction::Out);
    CREDENTIAL_FIELDS
        .iter()
        .filter_map(|&field| {
            let value = match field {
                Field::User => webhook.user.as_deref(),
                Field::Key => webhook.key.as_deref(),
                Field::Password => webhook.password.as_deref(),
                _ => webhook.signing_secret.as_deref(),
            }?;
            if value.trim().is_empty() {
                return None;
            }
            Some(Target {
                field,
                name: store.secret_name(direction, &webhook.code, field),
                value: SecretValue::new(value),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(code: &str, direction: Option<Direction>) -> Webhook {
        Webhook {
            direction,
            key: Some("k".into()),
            user: Some(" ".into()),
            ..Webhook::new(code, "https://example.com")
        }
    }

    #[test]
    fn filters_are_the_specs() {
        let out = Selection::new(Some(Direction::Out), None, Some("STRIPE_*")).unwrap();
        assert!(out.matches(&hook("STRIPE_PAYMENT", Some(Direction::Out))));
        assert!(
            out.matches(&hook("STRIPE_REFUND", None)),
            "no direction is OUT"
        );
        assert!(!out.matches(&hook("STRIPE_IN", Some(Direction::In))));
        assert!(!out.matches(&hook("GITHUB", Some(Direction::Out))));
        // --webhook ignores the direction.
        let one = Selection::new(Some(Direction::Out), Some("GH_IN".into()), None).unwrap();
        assert!(one.matches(&hook("GH_IN", Some(Direction::In))));
        assert!(!one.matches(&hook("GH", Some(Direction::In))));
        let all = Selection::new(None, None, None).unwrap();
        assert!(all.matches(&hook("X", Some(Direction::In))));
        assert_eq!(all.describe(), "all");
        assert_eq!(out.describe(), "direction=OUT pattern=STRIPE_*");
        assert_eq!(one.describe(), "webhook=GH_IN");
        assert!(
            Selection::new(None, None, Some("["))
                .unwrap_err()
                .contains("\"[\"")
        );
    }

    #[test]
    fn targets_are_the_credentials_the_row_has() {
        let store = StoreDecl::implicit("local").unwrap();
        let t = targets(&store, &hook("PAY", Some(Direction::In)));
        assert_eq!(t.len(), 1, "a blank user is no credential");
        assert_eq!(t[0].name, "WEBHOOK_IN_PAY_KEY");
        assert_eq!(t[0].value.expose(), "k");
    }
}
