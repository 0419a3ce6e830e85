//! The credentials `webhooks add` stores: read from environment variables that the command
//! line names, or from standard input — never from the command line itself, where they would
//! stay in the shell's history and show in every process listing.
//!
//! No message here ever shows a value, nor anything that may be one: a line of standard input
//! is named by its number, and a variable's name only when it looks like one.

use super::super::CliError;
use crate::registry::Field;

/// The fields that hold a credential, in the order they are shown.
pub const FIELDS: [Field; 4] = [
    Field::User,
    Field::Key,
    Field::Password,
    Field::SigningSecret,
];

/// Credentials read, each at most once.
#[derive(Default)]
pub struct Credentials {
    values: Vec<(Field, String)>,
}

impl Credentials {
    pub fn get(&self, field: Field) -> Option<&str> {
        self.values
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.as_str())
    }

    pub fn take(&mut self, field: Field) -> Option<String> {
        let at = self.values.iter().position(|(f, _)| *f == field)?;
        Some(self.values.remove(at).1)
    }

    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(|(_, v)| v.as_str())
    }

    fn insert(&mut self, field: Field, value: String, from: &str) -> Result<(), CliError> {
        if self.get(field).is_some() {
            return Err(CliError::usage(format!(
                "the {} is given twice ({from} gives it again)",
                field.name()
            ))
            .with_help("give each credential once: with its --…-env flag or on standard input"));
        }
        self.values.push((field, value));
        Ok(())
    }
}

/// The flag that names the environment variable of a field: `--key-env`.
pub fn env_flag(field: Field) -> String {
    format!("--{}-env", field.name())
}

/// Reads each named environment variable, then, with `stdin`, the `NAME=VALUE` lines of
/// standard input.
pub fn read(
    env: &[(Field, Option<&str>)],
    stdin: Option<&mut dyn std::io::Read>,
) -> Result<Credentials, CliError> {
    let mut credentials = Credentials::default();
    for (field, name) in env {
        if let Some(name) = name {
            let value = from_env(*field, name)?;
            credentials.insert(*field, value, &env_flag(*field))?;
        }
    }
    if let Some(input) = stdin {
        let mut bytes = Vec::new();
        input
            .read_to_end(&mut bytes)
            .map_err(|e| CliError::io("--stdin: cannot read standard input", &e))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            CliError::usage("--stdin: standard input is not UTF-8 text")
                .with_help(STDIN_HELP.to_string())
        })?;
        let lines = parse_lines(&text).map_err(|e| CliError::usage(e).with_help(STDIN_HELP))?;
        if lines.is_empty() {
            return Err(
                CliError::usage("--stdin: standard input holds no credentials")
                    .with_help(STDIN_HELP),
            );
        }
        for (field, value) in lines {
            credentials.insert(field, value, "standard input")?;
        }
    }
    Ok(credentials)
}

const STDIN_HELP: &str = "write one credential a line: user=…, key=…, password=…, signing-secret=… (e.g. printf 'key=%s\\n' \"$STRIPE_KEY\" | hookplan webhooks add …)";

fn from_env(field: Field, name: &str) -> Result<String, CliError> {
    let flag = env_flag(field);
    // Someone who passes the key itself instead of a variable's name must not see it
    // printed back: the name is shown only when it looks like a variable's.
    let shown = if looks_like_a_variable(name) {
        format!("the environment variable {name}")
    } else {
        "the environment variable it names (the name is not shown: it does not look like one, and may be the credential itself)".to_string()
    };
    let help = format!(
        "{flag} takes the NAME of a variable that holds the {}: export NAME=… then {flag} NAME; or use --stdin",
        field.name()
    );
    if name.is_empty() || name.contains(['=', '\0']) {
        return Err(
            CliError::usage(format!("{flag} needs the name of an environment variable"))
                .with_help(help),
        );
    }
    match std::env::var(name) {
        Ok(value) if value.is_empty() => {
            Err(CliError::usage(format!("{flag}: {shown} is empty")).with_help(help))
        }
        Ok(value) => Ok(value),
        Err(std::env::VarError::NotPresent) => {
            Err(CliError::usage(format!("{flag}: {shown} is not set")).with_help(help))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(CliError::usage(format!("{flag}: {shown} is not UTF-8 text")).with_help(help))
        }
    }
}

/// `STRIPE_KEY`, `DB_PASSWORD_2`: upper case, digits and `_`, not starting with a digit.
/// Keys and passwords are rarely written so.
fn looks_like_a_variable(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `name=value` lines; blank lines and `#` comments are skipped. The value is everything after
/// the first `=` (a line's `\r` aside), blanks included.
fn parse_lines(text: &str) -> Result<Vec<(Field, String)>, String> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!(
                "--stdin: line {number} of standard input is not NAME=VALUE"
            ));
        };
        let field = Field::parse(name.trim())
            .filter(|f| FIELDS.contains(f))
            .ok_or_else(|| {
                format!("--stdin: line {number} of standard input names no credential")
            })?;
        if value.is_empty() {
            return Err(format!(
                "--stdin: line {number} of standard input gives the {} no value",
                field.name()
            ));
        }
        if out.iter().any(|(f, _)| *f == field) {
            return Err(format!(
                "--stdin: line {number} of standard input gives the {} again",
                field.name()
            ));
        }
        out.push((field, value.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_their_credential() {
        let text = "# from the vault\nuser=svc\r\n\nkey= spaced value=with=equals\npassword=0\nsigning-secret=whsec_x\n";
        assert_eq!(
            parse_lines(text).unwrap(),
            vec![
                (Field::User, "svc".to_string()),
                (Field::Key, " spaced value=with=equals".to_string()),
                (Field::Password, "0".to_string()),
                (Field::SigningSecret, "whsec_x".to_string()),
            ]
        );
    }

    #[test]
    fn bad_lines_are_named_by_number_never_shown() {
        for (text, expected) in [
            (
                "key=a\nsk_live_SECRET\n",
                "line 2 of standard input is not NAME=VALUE",
            ),
            (
                "sk_live_SECRET=abc\n",
                "line 1 of standard input names no credential",
            ),
            (
                "url=https://x\n",
                "line 1 of standard input names no credential",
            ),
            ("key=\n", "line 1 of standard input gives the key no value"),
            (
                "key=a\nkey=b\n",
                "line 2 of standard input gives the key again",
            ),
        ] {
            let error = parse_lines(text).unwrap_err();
            assert!(error.ends_with(expected), "{error}");
            assert!(
                !error.contains("SECRET") && !error.contains("abc"),
                "{error}"
            );
        }
    }

    #[test]
    fn only_conventional_names_are_echoed() {
        assert!(looks_like_a_variable("STRIPE_KEY"));
        assert!(looks_like_a_variable("_X1"));
        assert!(!looks_like_a_variable("sk_live_0123"));
        assert!(!looks_like_a_variable("1ABC"));
        assert!(!looks_like_a_variable("Pg-s3cret"));
        assert!(!looks_like_a_variable(""));
    }
}
