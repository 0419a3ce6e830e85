//! Resolving `${env.…}`, `${secret.…}` and `${vars.…}` once, before the first step runs.

use crate::model::{Part, Plan, Reference, Span, Template};
use crate::observe::Redactor;
use crate::plan::Diagnostic;
use std::collections::{BTreeMap, HashMap};

/// Values read at the start of a run. Secrets are kept apart so every sink can mask them.
#[derive(Debug, Default, Clone)]
pub struct Values {
    pub env: HashMap<String, String>,
    pub secrets: HashMap<String, String>,
    pub vars: BTreeMap<String, String>,
    /// Variables whose value holds a secret (shown masked).
    pub secret_vars: Vec<String>,
}

impl Values {
    /// A redactor knowing every secret value of the run.
    pub fn redactor(&self) -> Redactor {
        let mut secrets: Vec<&str> = self.secrets.values().map(String::as_str).collect();
        secrets.sort_unstable();
        Redactor::new(secrets)
    }

    /// Variables as they may be shown: secrets masked.
    pub fn shown_vars(&self, redactor: &Redactor) -> Vec<(String, String)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.clone(), redactor.redact(v).into_owned()))
            .collect()
    }
}

/// Where run-time values come from (the process environment, or a fixed map in tests).
pub trait Environment {
    fn get(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Environment for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// Reads every environment variable and secret the plan uses and renders its variables.
/// Every missing value is reported, each at its place in the plan.
pub fn resolve(
    plan: &Plan,
    overrides: &[(String, String)],
    env: &dyn Environment,
) -> Result<Values, Vec<Diagnostic>> {
    let mut values = Values::default();
    let mut errors = Vec::new();
    let mut templates: Vec<&Template> = plan.vars.iter().map(|v| &v.value).collect();
    for step in &plan.steps {
        templates.extend(step.templates());
    }
    for sandbox in &plan.sandboxes {
        templates.extend(
            sandbox
                .endpoints
                .iter()
                .filter_map(|e| e.signature.as_ref().map(|s| &s.secret)),
        );
    }
    let mut reported = Vec::new();
    for template in templates {
        for (reference, span) in template.references() {
            match reference {
                Reference::Env { name, default } => {
                    if let Some(value) = lookup(env, name, default.as_deref()) {
                        values.env.insert(name.clone(), value);
                    } else if !reported.contains(&(name.clone(), span)) {
                        reported.push((name.clone(), span));
                        errors.push(missing("environment variable", name, span, reference));
                    }
                }
                Reference::Secret { name, default } => {
                    if let Some(value) = lookup(env, name, default.as_deref()) {
                        values.secrets.insert(name.clone(), value);
                    } else if !reported.contains(&(name.clone(), span)) {
                        reported.push((name.clone(), span));
                        errors.push(missing("secret", name, span, reference));
                    }
                }
                _ => {}
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for var in &plan.vars {
        let value = match overrides.iter().rev().find(|(k, _)| *k == var.name) {
            Some((_, v)) => v.clone(),
            None => render_static(&var.value, &values),
        };
        if var
            .value
            .references()
            .any(|(r, _)| matches!(r, Reference::Secret { .. }))
        {
            values.secret_vars.push(var.name.clone());
        }
        values.vars.insert(var.name.clone(), value);
    }
    Ok(values)
}

/// `${NAME:-default}` semantics: an unset or empty variable takes the default.
fn lookup(env: &dyn Environment, name: &str, default: Option<&str>) -> Option<String> {
    match env.get(name) {
        Some(value) if !value.is_empty() => Some(value),
        _ => default.map(str::to_string),
    }
}

fn render_static(template: &Template, values: &Values) -> String {
    let mut out = String::new();
    for part in &template.parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Ref {
                reference: Reference::Env { name, .. },
                ..
            } => out.push_str(values.env.get(name).map_or("", String::as_str)),
            Part::Ref {
                reference: Reference::Secret { name, .. },
                ..
            } => out.push_str(values.secrets.get(name).map_or("", String::as_str)),
            Part::Ref { .. } => {}
        }
    }
    out
}

fn missing(what: &str, name: &str, span: Span, reference: &Reference) -> Diagnostic {
    let default_form = match reference {
        Reference::Secret { .. } => format!("${{secret.{name}:-…}}"),
        _ => format!("${{env.{name}:-…}}"),
    };
    Diagnostic::error(
        "hookplan::missing-value",
        format!("{what} `{name}` is not set"),
        span,
        format!("{reference} has no value"),
    )
    .with_help(format!(
        "set {name} in the environment, or give a default: {default_form}"
    ))
}
