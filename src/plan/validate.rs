//! Cross-node checks: names, references, cycles, templates, files; then the validated model.

use super::config::DEFAULT_POLICY;

/// The name of a store's own retry policy (the spec's schedule plus 429).
pub const STORE_RETRY: &str = "store";
use super::decode::{Decoded, RetryChoice};
use super::diagnostic::{Diagnostic, Diagnostics};
use super::kinds;
use crate::graph::find_cycles;
use crate::model::suggest::did_you_mean;
use crate::model::{
    BodyDecl, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_DATABASE, DatabaseDecl, DelaySpec, HumanDuration,
    INFISICAL_STORE, LOCAL_STORE, Plan, Reference, Resource, Span, Step, StoreDecl, StoreKind,
    Template,
};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::Path;

pub fn validate(
    decoded: Decoded,
    base_dir: &Path,
    plan_path: &Path,
    config: &super::ProjectConfig,
    diags: &mut Diagnostics,
) -> Option<Plan> {
    let Decoded {
        plan: settings,
        plan_nodes,
        first_node,
        vars,
        retry_policies,
        sandboxes,
        databases,
        stores,
        steps,
        alerting,
        alerting_nodes: _,
        mqtt,
    } = decoded;
    SUGGESTIONS_LEFT.set(SUGGESTION_BUDGET);

    match plan_nodes.as_slice() {
        [] => {
            let (span, label) = match first_node {
                Some(span) => (span, "expected `plan \"name\" { … }` before this"),
                None => (Span::new(0, 0), "expected `plan \"name\" { … }`"),
            };
            diags.push(
                Diagnostic::error(
                    "hookplan::no-plan",
                    "the file has no `plan` node",
                    span,
                    label,
                )
                .with_help("start the file with `plan \"my-plan\" { description \"…\" }`"),
            )
        }
        [_] => {}
        [first, rest @ ..] => {
            for extra in rest {
                diags.push(
                    Diagnostic::error(
                        "hookplan::duplicate-node",
                        "a file holds exactly one `plan` node",
                        *extra,
                        "second `plan`",
                    )
                    .with_related(*first, "first `plan`")
                    .with_help("put each plan in its own file"),
                );
            }
        }
    }
    if steps.is_empty() && !diags.has_errors() {
        let span = settings.as_ref().map_or(Span::new(0, 0), |s| s.span);
        diags.push(
            Diagnostic::error(
                "hookplan::no-steps",
                "the plan has no steps",
                span,
                "nothing to run",
            )
            .with_help(
                "add a step, e.g. `step \"ping\" { http \"GET\" \"https://example.com/health\" }`",
            ),
        );
    }

    duplicates(
        "variable",
        vars.iter().map(|v| (v.name.as_str(), v.span)),
        diags,
    );
    duplicates(
        "retry policy",
        retry_policies
            .iter()
            .map(|p| (p.name.as_deref().unwrap_or(""), p.span)),
        diags,
    );
    duplicates(
        "sandbox",
        sandboxes.iter().map(|s| (s.name.as_str(), s.span)),
        diags,
    );
    duplicates(
        "database",
        databases.iter().map(|d| (d.name.as_str(), d.span)),
        diags,
    );
    duplicates(
        "secret store",
        stores.iter().map(|s| (s.name.as_str(), s.span)),
        diags,
    );
    duplicates(
        "step",
        steps.iter().map(|s| (s.step.name.as_str(), s.step.span)),
        diags,
    );

    let step_name_list: Vec<String> = steps.iter().map(|s| s.step.name.clone()).collect();
    let step_names: Vec<&str> = step_name_list.iter().map(String::as_str).collect();
    // Name → index of its first definition (a duplicate was reported above).
    let step_index = first_index(step_names.iter().copied());
    let var_names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
    let var_set: HashSet<&str> = var_names.iter().copied().collect();
    let sandbox_names: Vec<&str> = sandboxes.iter().map(|s| s.name.as_str()).collect();
    let sandbox_set: HashSet<&str> = sandbox_names.iter().copied().collect();
    // A step may name a registry of the project config, or the implicit default one; those it
    // names join the plan (after its own, which are the only ones checked against the plan).
    let own_databases = databases.len();
    let mut databases = databases;
    for s in &steps {
        for (resource, name) in s.step.action.spec().resources() {
            if resource != Resource::Database || databases.iter().any(|d| d.name == name.value) {
                continue;
            }
            if let Some(db) = config.database(&name.value) {
                databases.push(db.clone());
            } else if name.value == DEFAULT_DATABASE {
                databases.push(DatabaseDecl::implicit());
            }
        }
    }
    // Stores likewise: the plan's own, then those of the project config, then the implicit
    // `local` and `infisical` that its steps name.
    let own_stores = stores.len();
    let mut stores = stores;
    for s in &steps {
        for (resource, name) in s.step.action.spec().resources() {
            if resource != Resource::Store || stores.iter().any(|d| d.name == name.value) {
                continue;
            }
            if let Some(store) = config.store(&name.value) {
                stores.push(store.clone());
            } else if let Some(store) = StoreDecl::implicit(&name.value) {
                stores.push(store);
            }
        }
    }
    let mut store_names: Vec<String> = stores.iter().map(|d| d.name.clone()).collect();
    store_names.extend(config.stores.iter().map(|d| d.name.clone()));
    store_names.extend([LOCAL_STORE.to_string(), INFISICAL_STORE.to_string()]);
    store_names.sort_unstable();
    store_names.dedup();
    let mut database_names: Vec<&str> = databases.iter().map(|d| d.name.as_str()).collect();
    database_names.extend(config.databases.iter().map(|d| d.name.as_str()));
    database_names.push(DEFAULT_DATABASE);
    database_names.sort_unstable();
    database_names.dedup();

    // needs: every name known; then no cycles.
    let mut edges = Vec::new();
    let mut needs_of: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    let mut edge_spans = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        for need in &s.step.needs {
            match step_index.get(need.value.as_str()) {
                Some(&j) => {
                    // A link written twice is one link, shown where it was first written.
                    if let Entry::Vacant(entry) = edge_spans.entry((i, j)) {
                        entry.insert(need.span);
                        edges.push((i, j));
                        needs_of[i].push(j);
                    }
                }
                None => diags.push(unknown(
                    "step",
                    &need.value,
                    need.span,
                    &step_names,
                    "`needs` names steps of this plan",
                )),
            }
        }
    }
    let cycles = find_cycles(steps.len(), &edges);
    for cycle in &cycles {
        let names: Vec<&str> = cycle.iter().map(|&i| step_names[i]).collect();
        let link = |k: usize| (cycle[k], cycle[(k + 1) % cycle.len()]);
        let first = edge_spans[&link(0)];
        let mut d = if cycle.len() == 1 {
            Diagnostic::error(
                "hookplan::cycle",
                format!("step \"{}\" needs itself", names[0]),
                first,
                "needs itself",
            )
        } else {
            let path: Vec<&str> = names
                .iter()
                .copied()
                .chain(std::iter::once(names[0]))
                .collect();
            Diagnostic::error(
                "hookplan::cycle",
                format!("steps need each other in a cycle: {}", path.join(" → ")),
                first,
                format!("`{}` needs `{}`", names[0], names[1 % names.len()]),
            )
        };
        for k in 1..cycle.len() {
            let (from, to) = link(k);
            d = d.with_related(
                edge_spans[&link(k)],
                format!("`{}` needs `{}`", step_names[from], step_names[to]),
            );
        }
        let help = if cycle.len() == 1 {
            "remove this `needs`: a step cannot wait for itself"
        } else {
            "remove one of these `needs` to break the cycle"
        };
        diags.push(d.with_help(help));
    }

    // Transitive needs, for `${steps.X.k}` checks: computed only for the steps that read a
    // captured value, each by one walk over what it needs (safe with cycles: a visited set).
    let mut reach = Reach::new(steps.len());

    // Variables may read only the environment and secrets.
    for var in &vars {
        for (reference, span) in var.value.references() {
            if !matches!(reference, Reference::Env { .. } | Reference::Secret { .. }) {
                diags.push(
                    Diagnostic::error("hookplan::bad-reference", format!("variable `{}` cannot read {reference}", var.name), span, "not allowed in vars")
                        .with_help("variables are set before anything runs: they may read ${env.…} and ${secret.…} only"),
                );
            }
        }
    }

    // Sandboxes: endpoint secrets may read env, secrets and vars; body files must exist.
    for sandbox in &sandboxes {
        if let Some(infisical) = &sandbox.infisical {
            let seeds = infisical.secrets.iter().map(|s| &s.value);
            for template in std::iter::once(&infisical.client_secret).chain(seeds) {
                check_static_template(template, "a sandbox's setting", &var_names, diags);
            }
        }
        for endpoint in &sandbox.endpoints {
            if let Some(sig) = &endpoint.signature {
                check_static_template(&sig.secret, "a sandbox's setting", &var_names, diags);
            }
            let bodies = std::iter::once(&endpoint.response)
                .chain(endpoint.sequence.iter().map(|r| &r.response))
                .chain(endpoint.every.iter().map(|(_, r)| r));
            for response in bodies {
                if let Some(BodyDecl::File(path)) = &response.body {
                    check_file(base_dir, path, endpoint.span, diags);
                }
            }
        }
    }

    // Databases: the URL may read env, secrets and vars; a seed file must exist. Nothing
    // connects here.
    for db in &databases[..own_databases] {
        if let Some(url) = &db.url {
            check_static_template(url, "a database URL", &var_names, diags);
        }
        if let Some(seed) = &db.seed_sql {
            check_file(base_dir, seed, seed.span, diags);
        }
    }

    // Stores: templates may read env, secrets and vars; a CA bundle must exist; a retry
    // policy named must be declared (`store` is the store's own).
    for store in &mut stores[..own_stores] {
        for template in store.templates() {
            // A plan's own store may live in one of its sandboxes (`api-url
            // "${sandbox.vault.url}"`): a step using the store starts that sandbox first.
            check_template_refs(
                template,
                "a secret store",
                &var_names,
                Some(&sandbox_names),
                diags,
            );
        }
        if let StoreKind::Infisical(infisical) = &mut store.kind {
            if let Some(ca) = &infisical.ca_bundle {
                check_file(base_dir, ca, ca.span, diags);
            }
            let named = infisical
                .retry
                .as_ref()
                .filter(|r| r.value != STORE_RETRY)
                .map(|r| {
                    retry_policies
                        .iter()
                        .find(|p| p.name.as_deref() == Some(r.value.as_str()))
                        .or_else(|| config.policy(&r.value))
                        .cloned()
                });
            if let Some(Some(policy)) = &named {
                infisical.retry_policy = Some(policy.clone());
            }
            if let (Some(retry), Some(None)) = (&infisical.retry, &named) {
                let mut names: Vec<&str> = retry_policies
                    .iter()
                    .filter_map(|p| p.name.as_deref())
                    .collect();
                names.push(STORE_RETRY);
                diags.push(unknown(
                    "retry policy",
                    &retry.value,
                    retry.span,
                    &names,
                    "use the store's own with `retry \"store\"`, or declare `retry \"NAME\" { … }`",
                ));
            }
        }
    }

    let mut out_steps = Vec::with_capacity(steps.len());
    for (i, decoded) in steps.into_iter().enumerate() {
        let mut step: Step = decoded.step;
        let find_policy = |name: &str| {
            retry_policies
                .iter()
                .find(|p| p.name.as_deref() == Some(name))
                .or_else(|| config.policy(name))
        };
        let retries_by_default = kinds::find(step.action.kind()).is_some_and(|k| k.default_retry);
        step.retry = match decoded.retry {
            None if retries_by_default => find_policy(DEFAULT_POLICY).cloned(),
            None => None,
            Some(RetryChoice::Inline(policy)) => Some(policy),
            // `retry "none"` turns retries off, unless a policy of that name exists.
            Some(RetryChoice::Named(name))
                if name.value == NO_RETRY && find_policy(NO_RETRY).is_none() =>
            {
                None
            }
            Some(RetryChoice::Named(name)) => match retry_policies
                .iter()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .or_else(|| config.policy(&name))
            {
                Some(policy) => Some(policy.clone()),
                None => {
                    let names: Vec<&str> = retry_policies
                        .iter()
                        .chain(&config.retry_policies)
                        .filter_map(|p| p.name.as_deref())
                        .collect();
                    diags.push(unknown(
                        "retry policy",
                        &name.value,
                        name.span,
                        &names,
                        "define it at the top: `retry \"standard\" { max-retries 3 }`",
                    ));
                    None
                }
            },
        };
        for template in step.templates() {
            for (reference, span) in template.references() {
                match reference {
                    Reference::Var { name } if !var_set.contains(name.as_str()) => {
                        diags.push(unknown("variable", name, span, &var_names, "declare it in `vars { … }`"));
                    }
                    Reference::Sandbox { name, .. } if !sandbox_set.contains(name.as_str()) => {
                        diags.push(unknown("sandbox", name, span, &sandbox_names, "declare it with `sandbox \"name\" { port 0 }`"));
                    }
                    Reference::Step { step: other, .. } => match step_index.get(other.as_str()) {
                        None => diags.push(unknown("step", other, span, &step_names, "`${steps.STEP.NAME}` reads a value captured by an earlier step")),
                        Some(&j) if !reach.needs(&needs_of, i, j) => diags.push(
                            Diagnostic::error(
                                "hookplan::not-needed",
                                format!("step \"{}\" reads `{reference}` but does not need step \"{other}\"", step.name),
                                span,
                                format!("`{other}` may not have run yet"),
                            )
                            .with_help(format!("add `needs \"{other}\"` to step \"{}\"", step.name)),
                        ),
                        Some(_) => {}
                    },
                    _ => {}
                }
            }
        }
        // What the action names must exist; the files it reads too.
        for (resource, name) in step.action.spec().resources() {
            match resource {
                Resource::Sandbox if !sandbox_set.contains(name.as_str()) => {
                    diags.push(unknown(
                        "sandbox",
                        &name.value,
                        name.span,
                        &sandbox_names,
                        "declare it with `sandbox \"name\" { port 0 }`",
                    ));
                }
                Resource::Sandbox => {}
                Resource::Database if !database_names.contains(&name.as_str()) => {
                    diags.push(unknown(
                        "database",
                        &name.value,
                        name.span,
                        &database_names,
                        "declare it with `database \"registry\" url=\"sqlite://registry.db\"`",
                    ));
                }
                Resource::Database => {}
                Resource::Store if !store_names.contains(&name.value) => {
                    let known: Vec<&str> = store_names.iter().map(String::as_str).collect();
                    diags.push(unknown(
                        "secret store",
                        &name.value,
                        name.span,
                        &known,
                        "declare it with `secret-store \"local\" kind=\"file\"`",
                    ));
                }
                Resource::Store => {}
            }
        }
        for path in step.action.spec().files() {
            check_file(base_dir, path, path.span, diags);
        }
        // Only steps that get a response take `expect` and `capture`.
        let responds = kinds::find(step.action.kind()).is_none_or(|k| k.responds);
        if !responds {
            for span in &decoded.expect_spans {
                diags.push(
                    Diagnostic::error(
                        "hookplan::expect-not-http",
                        format!(
                            "`expect` applies to steps that get a response ({}), not `{}`",
                            responding_kinds(),
                            step.action.kind()
                        ),
                        *span,
                        "no response to check",
                    )
                    .with_help("`expect-requests` holds its own checks as child nodes"),
                );
            }
            if let Some(capture) = step.captures.first() {
                diags.push(
                    Diagnostic::error(
                        "hookplan::capture-not-http",
                        format!(
                            "`capture` applies to steps that get a response ({}), not `{}`",
                            responding_kinds(),
                            step.action.kind()
                        ),
                        capture.name.span,
                        "nothing to capture from",
                    )
                    .with_help("capture from the response of an `http` step"),
                );
            }
        }
        if let Some(attempts) = step.expect.attempts {
            let most = step.retry.as_ref().map_or(1, |p| p.max_retries + 1);
            if attempts > most {
                let span = decoded.expect_spans.first().copied().unwrap_or(step.span);
                let why = match &step.retry {
                    None => "it has no retry policy, so it sends one request".to_string(),
                    Some(p) => format!(
                        "its retry policy allows {} request(s) at most",
                        p.max_retries + 1
                    ),
                };
                diags.push(
                    Diagnostic::error(
                        "hookplan::attempts-unreachable",
                        format!(
                            "step \"{}\" expects {attempts} attempts, but {why}",
                            step.name
                        ),
                        span,
                        "cannot happen",
                    )
                    .with_help("name a retry policy with enough retries: `retry \"standard\"`"),
                );
            }
        }
        out_steps.push(step);
    }
    // `${steps.X.key}`: X must capture `key`.
    for step in &out_steps {
        for template in step.templates() {
            for (reference, span) in template.references() {
                if let Reference::Step { step: other, key } = reference
                    && let Some(&j) = step_index.get(other.as_str())
                {
                    check_capture(&out_steps[j], key, span, diags);
                }
            }
        }
    }

    // MQTT: the plan's connections win over the project config's (checked when that was read).
    super::decode::mqtt::check_unique(&mqtt, diags);
    for decl in &mqtt {
        for template in super::decode::mqtt::templates(decl) {
            check_static_template(template, "an mqtt connection", &var_names, diags);
        }
    }
    let mqtt = if mqtt.is_empty() {
        config.mqtt.clone()
    } else {
        mqtt
    };
    let connections: Vec<&str> = mqtt.iter().map(|m| m.name.as_str()).collect();
    // Alerting: the plan's own wins over the project config's (checked when that was read).
    if let Some(own) = &alerting {
        check_alerting(own, &var_names, &connections, diags);
    }
    drop(connections);
    let alerting = alerting.or_else(|| config.alerting.clone());
    for step in &out_steps {
        if step.action.kind() != "expect-alerts" {
            continue;
        }
        let why = match &alerting {
            Some(a) if a.enabled => continue,
            Some(_) => "alerting is disabled (`enabled #false`)",
            None => "neither the plan nor the project config declares `alerting`",
        };
        diags.push(
            Diagnostic::error(
                "hookplan::no-alerting",
                format!("step \"{}\" expects alerts, but {why}", step.name),
                step.action.span,
                "no alerts to check",
            )
            .with_help("add `alerting { failure-rate-threshold 10.0; window \"5m\" }` to the plan or to hookplan.kdl"),
        );
    }

    let settings = settings?;
    let attempt_timeout = settings.attempt_timeout.unwrap_or(DEFAULT_ATTEMPT_TIMEOUT);
    warn_delays_near_timeouts(&sandboxes, &out_steps, attempt_timeout, diags);
    if diags.has_errors() {
        return None;
    }
    Some(Plan {
        name: settings.name,
        description: settings.description,
        seed: settings.seed.unwrap_or(0),
        jobs: settings.jobs,
        timeout: settings.timeout,
        attempt_timeout,
        vars,
        retry_policies,
        sandboxes,
        databases,
        stores,
        steps: out_steps,
        alerting,
        mqtt,
        path: plan_path.to_path_buf(),
        base_dir: base_dir.to_path_buf(),
        canonical_hash: String::new(),
    })
}

/// An `alerting` node's channels: a Slack URL may read the environment, secrets and variables
/// (nothing that exists only once steps run); an mqtt channel must name a declared connection.
pub(super) fn check_alerting(
    alerting: &crate::model::AlertingDecl,
    var_names: &[&str],
    connections: &[&str],
    diags: &mut Diagnostics,
) {
    for channel in &alerting.channels {
        let crate::model::ChannelDecl::Slack { url, .. } = channel else {
            continue;
        };
        check_static_template(url, "an alert channel's URL", var_names, diags);
    }
    super::decode::alerting::check_mqtt_channels(alerting, connections, diags);
}

/// The kinds that take `expect` and `capture`, for messages (`` `http`, `replay` ``).
fn responding_kinds() -> String {
    kinds::STEP_KINDS
        .iter()
        .filter(|k| k.responds)
        .map(|k| format!("`{}`", k.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_capture(source: &Step, key: &str, span: Span, diags: &mut Diagnostics) {
    let published = kinds::find(source.action.kind()).map_or(&[][..], |k| k.publishes);
    if source.captures.iter().any(|c| c.name.value == key) || published.contains(&key) {
        return;
    }
    let mut names: Vec<&str> = source.captures.iter().map(|c| c.name.as_str()).collect();
    names.extend_from_slice(published);
    let help = match did_you_mean(key, names.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None if names.is_empty() => format!(
            "add `capture \"{key}\" json=\"/…\"` to step \"{}\"",
            source.name
        ),
        None => format!("step \"{}\" captures: {}", source.name, list(&names)),
    };
    diags.push(
        Diagnostic::error(
            "hookplan::unknown-capture",
            format!("step \"{}\" captures no `{key}`", source.name),
            span,
            "not captured",
        )
        .with_help(help),
    );
}

/// A template read before any step runs (`what`: "a sandbox's setting", "a database URL"): it
/// may read the environment, secrets and variables, nothing that exists only once steps run.
pub(super) fn check_static_template(
    template: &Template,
    what: &str,
    var_names: &[&str],
    diags: &mut Diagnostics,
) {
    check_template_refs(template, what, var_names, None, diags);
}

/// [`check_static_template`], also allowing `${sandbox.NAME.…}` of these sandboxes.
fn check_template_refs(
    template: &Template,
    what: &str,
    var_names: &[&str],
    sandboxes: Option<&[&str]>,
    diags: &mut Diagnostics,
) {
    for (reference, span) in template.references() {
        match reference {
            Reference::Env { .. } | Reference::Secret { .. } => {}
            Reference::Sandbox { name, .. } if let Some(known) = sandboxes => {
                if !known.contains(&name.as_str()) {
                    diags.push(unknown(
                        "sandbox",
                        name,
                        span,
                        known,
                        "declare it with `sandbox \"name\" { port 0 }`",
                    ));
                }
            }
            Reference::Var { name } if var_names.contains(&name.as_str()) => {}
            Reference::Var { name } => diags.push(unknown(
                "variable",
                name,
                span,
                var_names,
                "declare it in `vars { … }`",
            )),
            other => diags.push(
                Diagnostic::error(
                    "hookplan::bad-reference",
                    format!("{what} cannot read {other}"),
                    span,
                    "not allowed here",
                )
                .with_help(format!(
                    "{what} may read ${{env.…}}, ${{secret.…}} and ${{vars.…}}"
                )),
            ),
        }
    }
}

/// The policy name that turns a step's retries off.
pub const NO_RETRY: &str = "none";

fn check_file(base_dir: &Path, path: &Path, span: Span, diags: &mut Diagnostics) {
    let full = base_dir.join(path);
    if !full.is_file() {
        diags.push(
            Diagnostic::error(
                "hookplan::missing-file",
                format!("file \"{}\" not found", path.display()),
                span,
                "no such file",
            )
            .with_help(format!(
                "paths are relative to the plan's folder: looked for {}",
                full.display()
            )),
        );
    }
}

fn duplicates<'a>(
    what: &str,
    items: impl Iterator<Item = (&'a str, Span)>,
    diags: &mut Diagnostics,
) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for (name, span) in items {
        match seen.get(name) {
            Some(first) => diags.push(
                Diagnostic::error(
                    "hookplan::duplicate-name",
                    format!("{what} `{name}` is defined twice"),
                    span,
                    "defined again here",
                )
                .with_related(*first, "first defined here")
                .with_help(format!("give each {what} its own name")),
            ),
            None => _ = seen.insert(name, span),
        }
    }
}

/// Each name's index, the first one where a name is repeated.
fn first_index<'a>(names: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut index = HashMap::new();
    for (i, name) in names.enumerate() {
        index.entry(name).or_insert(i);
    }
    index
}

/// Whether one step needs another, directly or through others: a walk over `needs` from the
/// reading step that stops when it meets the step read (usually at once: a step mostly reads
/// from what it needs directly). Safe with cycles: a visited mark per walk.
struct Reach {
    /// The walk that last visited each step; a new walk needs no clearing.
    visited: Vec<u32>,
    walk: u32,
    stack: Vec<usize>,
}

impl Reach {
    fn new(count: usize) -> Self {
        Self {
            visited: vec![0; count],
            walk: 0,
            stack: Vec::new(),
        }
    }

    /// Whether step `i` needs step `j`, directly or through other steps.
    fn needs(&mut self, needs_of: &[Vec<usize>], i: usize, j: usize) -> bool {
        if needs_of[i].contains(&j) {
            return true;
        }
        self.walk += 1;
        self.stack.clear();
        self.stack.extend(&needs_of[i]);
        while let Some(s) = self.stack.pop() {
            if s == j {
                return true;
            }
            if std::mem::replace(&mut self.visited[s], self.walk) != self.walk {
                self.stack.extend(&needs_of[s]);
            }
        }
        false
    }
}

/// Names listed in a help line at most.
const MAX_LISTED: usize = 12;

/// Name comparisons spent on "did you mean" suggestions per plan: a large plan full of unknown
/// references would otherwise compare each with every name.
const SUGGESTION_BUDGET: usize = 2_000_000;

thread_local! {
    static SUGGESTIONS_LEFT: std::cell::Cell<usize> = const { std::cell::Cell::new(SUGGESTION_BUDGET) };
}

fn unknown(what: &str, name: &str, span: Span, known: &[&str], otherwise: &str) -> Diagnostic {
    let left = SUGGESTIONS_LEFT.get();
    let help = if known.is_empty() {
        otherwise.to_string()
    } else if left < known.len() {
        format!("{otherwise} (too many unknown names to suggest one)")
    } else {
        SUGGESTIONS_LEFT.set(left - known.len());
        match did_you_mean(name, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("known: {}", list(known)),
        }
    };
    Diagnostic::error(
        "hookplan::unknown-reference",
        format!("unknown {what} `{name}`"),
        span,
        format!("no {what} by this name"),
    )
    .with_help(help)
}

/// Names for a help line: sorted, each once, at most [`MAX_LISTED`] of them.
fn list(names: &[&str]) -> String {
    let mut names = names.to_vec();
    names.sort_unstable();
    names.dedup();
    let more = names.len().saturating_sub(MAX_LISTED);
    names.truncate(MAX_LISTED);
    let mut text = names.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// An injected delay near a request timeout behaves differently at different time scales: the
/// delay is scaled, the network timeout is not.
fn warn_delays_near_timeouts(
    sandboxes: &[crate::model::SandboxDecl],
    steps: &[Step],
    plan_timeout: std::time::Duration,
    diags: &mut Diagnostics,
) {
    for sandbox in sandboxes {
        let timeout = steps
            .iter()
            .filter(|s| s.sandboxes_used().contains(&sandbox.name))
            .map(|s| s.attempt_timeout.unwrap_or(plan_timeout))
            .min()
            .unwrap_or(plan_timeout);
        let longest = |d: &Option<DelaySpec>| match d {
            Some(DelaySpec::Fixed(d)) | Some(DelaySpec::Range(_, d)) => *d,
            None => std::time::Duration::ZERO,
        };
        let delays = std::iter::once((
            longest(&sandbox.delay),
            sandbox.delay_span.unwrap_or(sandbox.span),
        ))
        .chain(sandbox.endpoints.iter().flat_map(|e| {
            std::iter::once(&e.response)
                .chain(e.sequence.iter().map(|r| &r.response))
                .chain(e.every.iter().map(|(_, r)| r))
                .map(move |r| (longest(&r.delay), r.delay_span.unwrap_or(e.span)))
        }));
        for (delay, span) in delays {
            if delay >= timeout / 2 && delay < timeout * 2 {
                diags.push(
                    Diagnostic::warning(
                        "hookplan::delay-near-timeout",
                        format!("an injected delay of {} is close to the request timeout of {}", HumanDuration(delay), HumanDuration(timeout)),
                        span,
                        "delay near the timeout",
                    )
                    .with_help("delays are scaled by --time-scale but request timeouts are not, so this scenario may pass at one scale and fail at another; use a `hang` fault to test timeouts"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::{SourceFile, check};
    use std::path::Path;

    fn codes(text: &str) -> Vec<&'static str> {
        match check(SourceFile::new("t.kdl", text), Path::new("t.kdl")) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.files[0].diagnostics.iter().map(|d| d.code).collect(),
        }
    }

    #[test]
    fn captured_values_are_read_through_needs_at_any_depth() {
        let plan = |reader_needs: &str| {
            format!(
                "plan \"p\"\n\
                 step \"a\" {{ http \"GET\" \"https://x.test/\"; capture \"k\" json=\"/k\" }}\n\
                 step \"b\" {{ needs \"a\"; http \"GET\" \"https://x.test/\" }}\n\
                 step \"c\" {{ needs \"b\"; http \"GET\" \"https://x.test/\" }}\n\
                 step \"loop\" {{ needs \"loop2\"; http \"GET\" \"https://x.test/\" }}\n\
                 step \"loop2\" {{ needs \"loop\"; http \"GET\" \"https://x.test/\" }}\n\
                 step \"r\" {{ {reader_needs} http \"GET\" \"https://x.test/${{steps.a.k}}\" }}\n"
            )
        };
        // Directly, through one step, through two; not at all; only through a cycle elsewhere.
        assert_eq!(codes(&plan("needs \"a\";")), vec!["hookplan::cycle"]);
        assert_eq!(codes(&plan("needs \"b\";")), vec!["hookplan::cycle"]);
        assert_eq!(codes(&plan("needs \"c\";")), vec!["hookplan::cycle"]);
        assert_eq!(
            codes(&plan("")),
            vec!["hookplan::cycle", "hookplan::not-needed"]
        );
        assert_eq!(
            codes(&plan("needs \"loop\";")),
            vec!["hookplan::cycle", "hookplan::not-needed"]
        );
    }
}
