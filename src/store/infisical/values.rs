//! What Infisical does to a value it is sent, written from `reference/infisical-api.md`: it
//! trims the value, keeping one trailing newline. In the server's own words (the schema of every
//! write), a value whose last character is `\n` becomes `trim(value) + "\n"`, any other value
//! becomes `trim(value)`; `trim` is JavaScript's `String.prototype.trim`.
//!
//! hookplan refuses to write a value that would come back different, so that what it stored is
//! what it meant to store and a read-back can compare exactly.

/// Whether JavaScript's `trim` removes this character: ECMAScript's WhiteSpace (tab, vertical
/// tab, form feed, space, no-break space, the byte order mark, the Unicode space separators) and
/// LineTerminator (`\n`, `\r`, U+2028, U+2029). Not Rust's `char::is_whitespace`: that set holds
/// U+0085 and lacks U+FEFF.
fn trimmed_by_javascript(c: char) -> bool {
    matches!(
        c,
        '\u{0009}'
            | '\u{000A}'
            | '\u{000B}'
            | '\u{000C}'
            | '\u{000D}'
            | '\u{0020}'
            | '\u{00A0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// The value as Infisical stores it when sent `value`. For comparing values hookplan did not
/// write; hookplan's own writes never need it (it refuses values this would change).
pub fn infisical_trimmed(value: &str) -> String {
    let trimmed = value.trim_matches(trimmed_by_javascript);
    if value.ends_with('\n') {
        format!("{trimmed}\n")
    } else {
        trimmed.to_string()
    }
}

/// Why Infisical would not store `value` as sent, or `None` when it would. The reason never
/// holds the value.
pub fn infisical_would_alter(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return Some("the value is empty");
    }
    if infisical_trimmed(value) == value {
        return None;
    }
    Some(if value.ends_with('\n') {
        "the value has whitespace around it that Infisical would trim (it keeps only one final newline)"
    } else {
        "the value has leading or trailing whitespace that Infisical would trim"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_without_surrounding_whitespace_are_kept() {
        for value in ["s3cret", "0", "a b", "line1\nline2", "x\n", "\n", "a\tb"] {
            assert_eq!(infisical_trimmed(value), value, "{value:?}");
            assert_eq!(infisical_would_alter(value), None, "{value:?}");
        }
    }

    #[test]
    fn surrounding_whitespace_is_trimmed_and_one_final_newline_kept() {
        let cases = [
            (" s3cret", "s3cret"),
            ("s3cret ", "s3cret"),
            ("\ts3cret\r\n ", "s3cret"),
            ("s3cret\n\n", "s3cret\n"),
            (" s3cret\n", "s3cret\n"),
            ("s3cret \n", "s3cret\n"),
            ("\r\n", "\n"),
            ("   ", ""),
            ("\u{feff}s3cret", "s3cret"),
            ("s3cret\u{a0}", "s3cret"),
            ("\u{3000}s3cret\u{2028}", "s3cret"),
        ];
        for (sent, stored) in cases {
            assert_eq!(infisical_trimmed(sent), stored, "{sent:?}");
            assert!(infisical_would_alter(sent).is_some(), "{sent:?}");
        }
    }

    #[test]
    fn javascript_trim_is_not_rust_trim() {
        // U+0085 (next line) is whitespace to Rust, not to JavaScript's trim.
        assert_eq!(infisical_trimmed("\u{85}s3cret"), "\u{85}s3cret");
        assert_eq!(infisical_would_alter("\u{85}s3cret"), None);
        // U+FEFF (byte order mark) is the other way round.
        assert!(infisical_would_alter("s3cret\u{feff}").is_some());
    }

    #[test]
    fn the_empty_value_is_refused() {
        assert_eq!(infisical_would_alter(""), Some("the value is empty"));
    }

    #[test]
    fn reasons_never_hold_the_value() {
        for value in [" 0", "ss ", "\ttrue", "POST\n\n", ""] {
            let reason = infisical_would_alter(value).unwrap();
            assert!(
                !reason.contains(value.trim()) || value.trim().is_empty(),
                "{reason}"
            );
        }
    }
}
