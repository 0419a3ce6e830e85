//! Which column holds which field: hookplan's own table, or a legacy table's `columns`
//! mapping resolved against the catalog (case-insensitively, then in the catalog's spelling).

/// A webhook field as `columns` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Code,
    Direction,
    Url,
    Method,
    Auth,
    User,
    Key,
    Password,
    SigningSecret,
    Enabled,
}

impl Field {
    pub const ALL: [Field; 10] = [
        Field::Code,
        Field::Direction,
        Field::Url,
        Field::Method,
        Field::Auth,
        Field::User,
        Field::Key,
        Field::Password,
        Field::SigningSecret,
        Field::Enabled,
    ];

    /// The name used in `columns` (`signing-secret`, …).
    pub fn name(self) -> &'static str {
        match self {
            Field::Code => "code",
            Field::Direction => "direction",
            Field::Url => "url",
            Field::Method => "method",
            Field::Auth => "auth",
            Field::User => "user",
            Field::Key => "key",
            Field::Password => "password",
            Field::SigningSecret => "signing-secret",
            Field::Enabled => "enabled",
        }
    }

    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The column of hookplan's own `webhooks` table.
    pub fn own_column(self) -> &'static str {
        match self {
            Field::SigningSecret => "signing_secret",
            other => other.name(),
        }
    }
}

/// Field → column name as written in the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    pub entries: Vec<(Field, String)>,
}

impl ColumnMap {
    /// hookplan's own table: every field, in its own column.
    pub fn own() -> Self {
        Self {
            entries: Field::ALL
                .into_iter()
                .map(|f| (f, f.own_column().to_string()))
                .collect(),
        }
    }

    pub fn get(&self, field: Field) -> Option<&str> {
        self.entries
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, c)| c.as_str())
    }
}

/// A mapping whose names are spelled as the catalog spells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub table: String,
    pub columns: ColumnMap,
}

/// Matches each mapped column against the table's columns, ignoring case; the first
/// missing one is returned as (field, column as written).
pub fn resolve(
    table: &str,
    map: &ColumnMap,
    catalog: &[String],
) -> Result<Resolved, (Field, String)> {
    let mut entries = Vec::with_capacity(map.entries.len());
    for (field, written) in &map.entries {
        let found = catalog
            .iter()
            .find(|c| c.as_str() == written)
            .or_else(|| catalog.iter().find(|c| c.eq_ignore_ascii_case(written)));
        match found {
            Some(column) => entries.push((*field, column.clone())),
            None => return Err((*field, written.clone())),
        }
    }
    Ok(Resolved {
        table: table.to_string(),
        columns: ColumnMap { entries },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_names_take_the_catalog_spelling() {
        let map = ColumnMap {
            entries: vec![
                (Field::Code, "Webhookcode".into()),
                (Field::Url, "BASEURL".into()),
            ],
        };
        let catalog = vec!["webhookcode".to_string(), "baseurl".to_string()];
        let resolved = resolve("def_webhook", &map, &catalog).unwrap();
        assert_eq!(resolved.columns.get(Field::Code), Some("webhookcode"));
        assert_eq!(resolved.columns.get(Field::Url), Some("baseurl"));
        assert_eq!(resolved.columns.get(Field::Key), None);
        let missing = ColumnMap {
            entries: vec![(Field::Key, "Apikey".into())],
        };
        assert_eq!(
            resolve("def_webhook", &missing, &catalog),
            Err((Field::Key, "Apikey".to_string()))
        );
    }

    #[test]
    fn field_names_round_trip() {
        for f in Field::ALL {
            assert_eq!(Field::parse(f.name()), Some(f));
        }
        assert_eq!(Field::parse("signing_secret"), None);
    }
}
