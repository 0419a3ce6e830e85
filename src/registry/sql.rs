//! The one place that knows how the backends differ in SQL text: placeholders (`?` for
//! SQLite, `$1` for PostgreSQL) and quoted identifiers.

use super::url::Backend;

/// The placeholder for the `n`-th bound value (1-based).
pub fn placeholder(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => "?".to_string(),
        Backend::Postgres => format!("${n}"),
    }
}

/// An identifier quoted as written (both backends take `"…"`, with `"` doubled).
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// SQL text with its values, its placeholders numbered as the values are pushed.
pub struct Statement {
    backend: Backend,
    pub text: String,
    pub values: Vec<Option<String>>,
}

impl Statement {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            text: String::new(),
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: Option<String>) -> &mut Self {
        self.values.push(value);
        let p = placeholder(self.backend, self.values.len());
        self.text.push_str(&p);
        self
    }

    /// Appends `(p1, p2, …)`, one placeholder bound to each of `values`: the list of an `IN`.
    pub fn bind_list(&mut self, values: &[String]) -> &mut Self {
        self.push("(");
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(Some(value.clone()));
        }
        self.push(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_by_backend() {
        for (backend, expected) in [
            (Backend::Sqlite, "SELECT 1 WHERE a = ? AND b = ?"),
            (Backend::Postgres, "SELECT 1 WHERE a = $1 AND b = $2"),
        ] {
            let mut s = Statement::new(backend);
            s.push("SELECT 1 WHERE a = ")
                .bind(Some("x".into()))
                .push(" AND b = ")
                .bind(None);
            assert_eq!(s.text, expected);
            assert_eq!(s.values.len(), 2);
        }
        assert_eq!(quote("Web\"hook"), "\"Web\"\"hook\"");
    }

    #[test]
    fn a_list_is_one_placeholder_per_value() {
        let mut s = Statement::new(Backend::Postgres);
        s.push("SELECT 1 WHERE a = ")
            .bind(Some("x".into()))
            .push(" AND code IN ")
            .bind_list(&["A".into(), "B".into()]);
        assert_eq!(s.text, "SELECT 1 WHERE a = $1 AND code IN ($2, $3)");
        assert_eq!(
            s.values,
            [Some("x".into()), Some("A".into()), Some("B".into())]
        );
    }
}
