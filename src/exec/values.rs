//! Resolving `${env.…}`, `${secret.…}` and `${vars.…}` once, before the first step runs.

use crate::model::{Part, Plan, Reference, Span, Template};
use crate::observe::{MASK, Redactor};
use std::collections::{BTreeMap, HashMap};

/// Values read at the start of a run. Secrets are kept apart so every sink can mask them.
#[derive(Debug, Default, Clone)]
pub struct Values {
    pub env: HashMap<String, String>,
    pub secrets: HashMap<String, String>,
    pub vars: BTreeMap<String, String>,
    /// Variables whose value holds a secret (shown masked).
    pub secret_vars: Vec<String>,
    /// Each variable as it may be shown: what its secrets filled in is masked.
    pub shown: BTreeMap<String, String>,
}

impl Values {
    /// A redactor knowing every secret value of the run.
    pub fn redactor(&self) -> Redactor {
        let mut secrets: Vec<&str> = self.secrets.values().map(String::as_str).collect();
        secrets.sort_unstable();
        Redactor::new(secrets)
    }

    /// Variables as they may be shown: what secrets filled in is masked, nothing else.
    pub fn shown_vars(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.clone(), self.shown.get(k).unwrap_or(v).clone()))
            .collect()
    }
}

/// A value the plan reads that is not set: reported at its place in the plan before anything
/// runs.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what} `{name}` is not set")]
pub struct MissingValue {
    /// `environment variable` or `secret`.
    pub what: &'static str,
    pub name: String,
    /// The template reference, as written (`${secret.TOKEN}`).
    pub reference: String,
    /// Where it is read in the plan.
    pub span: Span,
    pub is_secret: bool,
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
) -> Result<Values, Vec<MissingValue>> {
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
        if let Some(infisical) = &sandbox.infisical {
            templates.push(&infisical.client_secret);
            templates.extend(infisical.secrets.iter().map(|s| &s.value));
        }
    }
    templates.extend(plan.databases.iter().filter_map(|d| d.url.as_ref()));
    for store in &plan.stores {
        templates.extend(store.templates());
    }
    for mqtt in &plan.mqtt {
        templates.push(&mqtt.url);
        templates.extend(mqtt.password.as_ref());
    }
    if let Some(alerting) = crate::alerting::active(plan.alerting.as_ref()) {
        templates.extend(alerting.channels.iter().filter_map(|c| match c {
            crate::model::ChannelDecl::Slack { url, .. } => Some(url),
            _ => None,
        }));
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
        let (value, shown) = match overrides.iter().rev().find(|(k, _)| *k == var.name) {
            Some((_, v)) => (v.clone(), v.clone()),
            None => (
                render_static(&var.value, &values, false),
                render_static(&var.value, &values, true),
            ),
        };
        values.shown.insert(var.name.clone(), shown);
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

/// A template that reads only the environment and secrets (a database URL in the project
/// config), rendered for a direct command. Also returns the secret values it read, to mask.
pub fn render_env(
    template: &Template,
    env: &dyn Environment,
) -> Result<(String, Vec<String>), MissingValue> {
    let mut values = Values::default();
    for (reference, span) in template.references() {
        let (what, name, default, secret) = match reference {
            Reference::Env { name, default } => ("environment variable", name, default, false),
            Reference::Secret { name, default } => ("secret", name, default, true),
            _ => continue,
        };
        let value = lookup(env, name, default.as_deref())
            .ok_or_else(|| missing(what, name, span, reference))?;
        if secret {
            values.secrets.insert(name.clone(), value);
        } else {
            values.env.insert(name.clone(), value);
        }
    }
    let rendered = render_static(template, &values, false);
    Ok((rendered, values.secrets.into_values().collect()))
}

/// `${NAME:-default}` semantics: an unset or empty variable takes the default.
fn lookup(env: &dyn Environment, name: &str, default: Option<&str>) -> Option<String> {
    match env.get(name) {
        Some(value) if !value.is_empty() => Some(value),
        _ => default.map(str::to_string),
    }
}

/// A variable's value; `shown` masks what a secret fills in.
fn render_static(template: &Template, values: &Values, shown: bool) -> String {
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
            } if shown => out.push_str(MASK),
            Part::Ref {
                reference: Reference::Secret { name, .. },
                ..
            } => out.push_str(values.secrets.get(name).map_or("", String::as_str)),
            Part::Ref { .. } => {}
        }
    }
    out
}

fn missing(what: &'static str, name: &str, span: Span, reference: &Reference) -> MissingValue {
    MissingValue {
        what,
        name: name.to_string(),
        reference: reference.to_string(),
        span,
        is_secret: matches!(reference, Reference::Secret { .. }),
    }
}
