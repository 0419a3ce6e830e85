//! Verify (the spec's `verify`): read each selected webhook's credentials back from the store
//! and compare them exactly with the registry's — those its row holds, and those hookplan's
//! tables place in the store. A webhook with no credential has nothing to verify and is not
//! counted.
//!
//! Values are read to be compared and dropped at once: a verdict names fields, never values.

use super::selection::Selection;
use super::status::{Held, PAGE_SIZE, Pages, compare, short_name};
use crate::model::StoreDecl;
use crate::registry::{Direction, Field, Registry};
use crate::store::SecretStore;

/// How one webhook's verification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The store holds every credential with exactly the registry's value.
    Verified,
    /// The store holds at least one credential with another value.
    Mismatch,
    /// The store lacks at least one credential, and none differs.
    Missing,
}

impl Outcome {
    /// The name in reports and `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::Mismatch => "mismatch",
            Outcome::Missing => "missing",
        }
    }
}

/// One webhook's verification. No value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub code: String,
    pub direction: Direction,
    /// Every credential checked, in [`CREDENTIAL_FIELDS`](super::selection::CREDENTIAL_FIELDS)
    /// order.
    pub fields: Vec<Field>,
    /// Those the store holds with another value.
    pub mismatched: Vec<Field>,
    /// Those the store does not hold.
    pub missing: Vec<Field>,
    pub outcome: Outcome,
}

impl Verdict {
    /// The verdict from what the store holds of each credential; `None` when there is none.
    pub fn judge(code: &str, direction: Direction, held: &[(Field, Held)]) -> Option<Self> {
        if held.is_empty() {
            return None;
        }
        let with = |wanted: Held| -> Vec<Field> {
            held.iter()
                .filter(|(_, h)| *h == wanted)
                .map(|(f, _)| *f)
                .collect()
        };
        let mismatched = with(Held::Differs);
        let missing = with(Held::Absent);
        let outcome = if !mismatched.is_empty() {
            Outcome::Mismatch
        } else if !missing.is_empty() {
            Outcome::Missing
        } else {
            Outcome::Verified
        };
        Some(Self {
            code: code.to_string(),
            direction,
            fields: held.iter().map(|(f, _)| *f).collect(),
            mismatched,
            missing,
            outcome,
        })
    }

    /// The spec's console line: `[CODE] Verified successfully`, or `[CODE] Verification
    /// failed - ` and which fields differ or are missing (names only).
    pub fn line(&self) -> String {
        let code = &self.code;
        if self.outcome == Outcome::Verified {
            return format!("[{code}] Verified successfully");
        }
        let names = |fields: &[Field]| {
            fields
                .iter()
                .map(|f| short_name(*f))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut why = Vec::new();
        if !self.mismatched.is_empty() {
            why.push(format!("{} differs in the store", names(&self.mismatched)));
        }
        if !self.missing.is_empty() {
            why.push(format!("{} missing from the store", names(&self.missing)));
        }
        format!("[{code}] Verification failed - {}", why.join("; "))
    }
}

/// The line that opens a verification.
pub const OPENING: &str = "Verifying migration...";

/// The line that closes a verification in which everything was verified.
pub const ALL_VERIFIED: &str = "All migrations verified successfully!";

/// The line that closes a verification: the spec's, or how many failed.
pub fn closing(checked: usize, failed: usize) -> String {
    if checked == 0 {
        "Found 0 webhook(s) to verify".to_string()
    } else if failed == 0 {
        ALL_VERIFIED.to_string()
    } else {
        format!("Verification failed for {failed} of {checked} webhook(s)")
    }
}

/// Webhooks compared at once.
const CONCURRENT_WEBHOOKS: usize = 16;

/// Every selected webhook's verdict that has credentials, in code order, read page by page;
/// `each` gets them one at a time.
pub async fn verify(
    registry: &Registry,
    store: &dyn SecretStore,
    decl: &StoreDecl,
    selection: &Selection,
    each: impl FnMut(Verdict),
) -> Result<(), String> {
    verify_pages(registry, store, decl, selection, PAGE_SIZE, each).await
}

/// [`verify`], reading `page_size` rows at a time.
pub async fn verify_pages(
    registry: &Registry,
    store: &dyn SecretStore,
    decl: &StoreDecl,
    selection: &Selection,
    page_size: usize,
    mut each: impl FnMut(Verdict),
) -> Result<(), String> {
    let mut pages = Pages::new(registry, selection, page_size);
    while let Some(page) = pages.next().await? {
        // A group's webhooks are compared at once; verdicts keep the page's order.
        for group in page.chunks(CONCURRENT_WEBHOOKS) {
            let compared = futures_util::future::join_all(
                group
                    .iter()
                    .map(|webhook| compare(registry, store, decl, webhook)),
            )
            .await;
            for (webhook, held) in group.iter().zip(compared) {
                let held = held?;
                let direction = webhook.direction.unwrap_or(Direction::Out);
                if let Some(verdict) = Verdict::judge(&webhook.code, direction, &held) {
                    each(verdict);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_what_the_store_holds_and_name_fields_only() {
        use Held::*;
        assert_eq!(Verdict::judge("X", Direction::Out, &[]), None);
        let ok = Verdict::judge(
            "PAY",
            Direction::Out,
            &[(Field::User, Same), (Field::Key, Same)],
        )
        .unwrap();
        assert_eq!(ok.outcome, Outcome::Verified);
        assert_eq!(ok.line(), "[PAY] Verified successfully");
        let bad = Verdict::judge(
            "PAY",
            Direction::Out,
            &[
                (Field::User, Absent),
                (Field::Key, Differs),
                (Field::Password, Absent),
            ],
        )
        .unwrap();
        assert_eq!(bad.outcome, Outcome::Mismatch);
        assert_eq!(
            bad.line(),
            "[PAY] Verification failed - key differs in the store; user,pass missing from the store"
        );
        let gone = Verdict::judge("PAY", Direction::In, &[(Field::Key, Absent)]).unwrap();
        assert_eq!(gone.outcome, Outcome::Missing);
        assert_eq!(
            gone.line(),
            "[PAY] Verification failed - key missing from the store"
        );
    }

    #[test]
    fn the_closing_line_is_the_specs_when_all_passed() {
        assert_eq!(closing(3, 0), "All migrations verified successfully!");
        assert_eq!(closing(3, 1), "Verification failed for 1 of 3 webhook(s)");
        assert_eq!(closing(0, 0), "Found 0 webhook(s) to verify");
    }
}
