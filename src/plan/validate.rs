//! Cross-node checks: names, references, cycles, templates, files; then the validated model.

use super::decode::{Decoded, RetryChoice};
use super::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::find_cycles;
use crate::model::suggest::did_you_mean;
use crate::model::{
    Action, BodyDecl, DEFAULT_ATTEMPT_TIMEOUT, DelaySpec, HumanDuration, Plan, Reference, Span, Step, Template,
};
use std::collections::BTreeSet;
use std::path::Path;

pub fn validate(decoded: Decoded, base_dir: &Path, plan_path: &Path, diags: &mut Diagnostics) -> Option<Plan> {
    let Decoded { plan: settings, plan_nodes, vars, retry_policies, sandboxes, steps } = decoded;

    match plan_nodes.as_slice() {
        [] => diags.push(
            Diagnostic::error("hookplan::no-plan", "the file has no `plan` node", Span::new(0, 0), "expected `plan \"name\" { … }`")
                .with_help("start the file with `plan \"my-plan\" { description \"…\" }`"),
        ),
        [_] => {}
        [first, rest @ ..] => {
            for extra in rest {
                diags.push(
                    Diagnostic::error("hookplan::duplicate-node", "a file holds exactly one `plan` node", *extra, "second `plan`")
                        .with_related(*first, "first `plan`")
                        .with_help("put each plan in its own file"),
                );
            }
        }
    }
    if steps.is_empty() && !diags.has_errors() {
        let span = settings.as_ref().map_or(Span::new(0, 0), |s| s.span);
        diags.push(
            Diagnostic::error("hookplan::no-steps", "the plan has no steps", span, "nothing to run")
                .with_help("add a step, e.g. `step \"ping\" { http \"GET\" \"https://example.com/health\" }`"),
        );
    }

    duplicates("variable", vars.iter().map(|v| (v.name.as_str(), v.span)), diags);
    duplicates("retry policy", retry_policies.iter().map(|p| (p.name.as_deref().unwrap_or(""), p.span)), diags);
    duplicates("sandbox", sandboxes.iter().map(|s| (s.name.as_str(), s.span)), diags);
    duplicates("step", steps.iter().map(|s| (s.step.name.as_str(), s.step.span)), diags);

    let step_name_list: Vec<String> = steps.iter().map(|s| s.step.name.clone()).collect();
    let step_names: Vec<&str> = step_name_list.iter().map(String::as_str).collect();
    let var_names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
    let sandbox_names: Vec<&str> = sandboxes.iter().map(|s| s.name.as_str()).collect();

    // needs: every name known; then no cycles.
    let mut edges = Vec::new();
    let mut edge_spans = std::collections::HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        for need in &s.step.needs {
            match step_names.iter().position(|n| *n == need.value) {
                Some(j) => {
                    edges.push((i, j));
                    edge_spans.entry((i, j)).or_insert(need.span);
                }
                None => diags.push(unknown("step", &need.value, need.span, &step_names, "`needs` names steps of this plan")),
            }
        }
    }
    let cycles = find_cycles(steps.len(), &edges);
    for cycle in &cycles {
        let names: Vec<&str> = cycle.iter().map(|&i| step_names[i]).collect();
        let link = |k: usize| (cycle[k], cycle[(k + 1) % cycle.len()]);
        let first = edge_spans[&link(0)];
        let mut d = if cycle.len() == 1 {
            Diagnostic::error("hookplan::cycle", format!("step `{}` needs itself", names[0]), first, "needs itself")
        } else {
            let path: Vec<&str> = names.iter().copied().chain(std::iter::once(names[0])).collect();
            Diagnostic::error(
                "hookplan::cycle",
                format!("steps need each other in a cycle: {}", path.join(" → ")),
                first,
                format!("`{}` needs `{}`", names[0], names[1 % names.len()]),
            )
        };
        for k in 1..cycle.len() {
            let (from, to) = link(k);
            d = d.with_related(edge_spans[&link(k)], format!("`{}` needs `{}`", step_names[from], step_names[to]));
        }
        diags.push(d.with_help("remove one of these `needs` to break the cycle"));
    }

    // Transitive needs, for `${steps.X.k}` checks (safe with cycles: visited sets).
    let ancestors = |i: usize| -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = edges.iter().filter(|(f, _)| *f == i).map(|(_, t)| *t).collect();
        while let Some(s) = stack.pop() {
            if seen.insert(s) {
                stack.extend(edges.iter().filter(|(f, _)| *f == s).map(|(_, t)| *t));
            }
        }
        seen
    };

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
        for endpoint in &sandbox.endpoints {
            if let Some(sig) = &endpoint.signature {
                check_static_template(&sig.secret, &var_names, diags);
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

    let mut out_steps = Vec::with_capacity(steps.len());
    for (i, decoded) in steps.into_iter().enumerate() {
        let mut step: Step = decoded.step;
        step.retry = match decoded.retry {
            None => None,
            Some(RetryChoice::Inline(policy)) => Some(policy),
            Some(RetryChoice::Named(name)) => match retry_policies.iter().find(|p| p.name.as_deref() == Some(name.as_str())) {
                Some(policy) => Some(policy.clone()),
                None => {
                    let names: Vec<&str> = retry_policies.iter().filter_map(|p| p.name.as_deref()).collect();
                    diags.push(unknown("retry policy", &name.value, name.span, &names, "define it at the top: `retry \"standard\" { max-retries 3 }`"));
                    None
                }
            },
        };
        let before = ancestors(i);
        for template in step.templates() {
            for (reference, span) in template.references() {
                match reference {
                    Reference::Var { name } if !var_names.contains(&name.as_str()) => {
                        diags.push(unknown("variable", name, span, &var_names, "declare it in `vars { … }`"));
                    }
                    Reference::Sandbox { name, .. } if !sandbox_names.contains(&name.as_str()) => {
                        diags.push(unknown("sandbox", name, span, &sandbox_names, "declare it with `sandbox \"name\" { port 0 }`"));
                    }
                    Reference::Step { step: other, .. } => match step_names.iter().position(|n| n == other) {
                        None => diags.push(unknown("step", other, span, &step_names, "`${steps.STEP.NAME}` reads a value captured by an earlier step")),
                        Some(j) if !before.contains(&j) => diags.push(
                            Diagnostic::error(
                                "hookplan::not-needed",
                                format!("step `{}` reads `{reference}` but does not need `{other}`", step.name),
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
        let (sandbox_ref, is_http) = match &step.action {
            Action::ExpectRequests(e) => (Some(&e.sandbox), false),
            Action::Replay(r) => (Some(&r.sandbox), false),
            Action::Http(http) => {
                if let Some(crate::model::Body::File(path)) = &http.body {
                    check_file(base_dir, path, path.span, diags);
                }
                (None, true)
            }
        };
        if let Some(sandbox) = sandbox_ref
            && !sandbox_names.contains(&sandbox.as_str())
        {
            diags.push(unknown("sandbox", &sandbox.value, sandbox.span, &sandbox_names, "declare it with `sandbox \"name\" { port 0 }`"));
        }
        if !is_http {
            for span in &decoded.expect_spans {
                diags.push(
                    Diagnostic::error("hookplan::expect-not-http", format!("`expect` applies to `http` steps, not `{}`", step.action.kind()), *span, "no response to check")
                        .with_help("`expect-requests` holds its own checks as child nodes"),
                );
            }
            if let Some(capture) = step.captures.first() {
                diags.push(
                    Diagnostic::error("hookplan::capture-not-http", format!("`capture` applies to `http` steps, not `{}`", step.action.kind()), capture.name.span, "nothing to capture from")
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
                    Some(p) => format!("its retry policy allows {} request(s) at most", p.max_retries + 1),
                };
                diags.push(
                    Diagnostic::error("hookplan::attempts-unreachable", format!("step `{}` expects {attempts} attempts, but {why}", step.name), span, "cannot happen")
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
                    && let Some(source) = out_steps.iter().find(|s| s.name == *other)
                {
                    check_capture(source, key, span, diags);
                }
            }
        }
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
        steps: out_steps,
        path: plan_path.to_path_buf(),
        base_dir: base_dir.to_path_buf(),
        canonical_hash: String::new(),
    })
}

fn check_capture(source: &Step, key: &str, span: Span, diags: &mut Diagnostics) {
    if source.captures.iter().any(|c| c.name.value == key) {
        return;
    }
    let names: Vec<&str> = source.captures.iter().map(|c| c.name.as_str()).collect();
    let help = match did_you_mean(key, names.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None if names.is_empty() => format!("add `capture \"{key}\" json=\"/…\"` to step \"{}\"", source.name),
        None => format!("step \"{}\" captures: {}", source.name, names.join(", ")),
    };
    diags.push(
        Diagnostic::error("hookplan::unknown-capture", format!("step `{}` captures no `{key}`", source.name), span, "not captured").with_help(help),
    );
}

fn check_static_template(template: &Template, var_names: &[&str], diags: &mut Diagnostics) {
    for (reference, span) in template.references() {
        match reference {
            Reference::Env { .. } | Reference::Secret { .. } => {}
            Reference::Var { name } if var_names.contains(&name.as_str()) => {}
            Reference::Var { name } => diags.push(unknown("variable", name, span, var_names, "declare it in `vars { … }`")),
            other => diags.push(
                Diagnostic::error("hookplan::bad-reference", format!("a sandbox cannot read {other}"), span, "not allowed here")
                    .with_help("sandbox settings may read ${env.…}, ${secret.…} and ${vars.…}"),
            ),
        }
    }
}

fn check_file(base_dir: &Path, path: &Path, span: Span, diags: &mut Diagnostics) {
    let full = base_dir.join(path);
    if !full.is_file() {
        diags.push(
            Diagnostic::error("hookplan::missing-file", format!("file \"{}\" not found", path.display()), span, "no such file")
                .with_help(format!("paths are relative to the plan's folder ({})", display_dir(base_dir))),
        );
    }
}

fn display_dir(dir: &Path) -> String {
    let text = dir.display().to_string();
    if text.is_empty() { ".".into() } else { text }
}

fn duplicates<'a>(what: &str, items: impl Iterator<Item = (&'a str, Span)>, diags: &mut Diagnostics) {
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for (name, span) in items {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            diags.push(
                Diagnostic::error("hookplan::duplicate-name", format!("{what} `{name}` is defined twice"), span, "defined again here")
                    .with_related(*first, "first defined here")
                    .with_help(format!("give each {what} its own name")),
            );
        } else {
            seen.push((name, span));
        }
    }
}

fn unknown(what: &str, name: &str, span: Span, known: &[&str], otherwise: &str) -> Diagnostic {
    let mut known = known.to_vec();
    known.sort_unstable();
    known.dedup();
    let help = match did_you_mean(name, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => otherwise.to_string(),
        None => format!("known: {}", known.join(", ")),
    };
    Diagnostic::error("hookplan::unknown-reference", format!("unknown {what} `{name}`"), span, format!("no {what} by this name")).with_help(help)
}

/// An injected delay near a request timeout behaves differently at different time scales: the
/// delay is scaled, the network timeout is not.
fn warn_delays_near_timeouts(sandboxes: &[crate::model::SandboxDecl], steps: &[Step], plan_timeout: std::time::Duration, diags: &mut Diagnostics) {
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
        let delays = std::iter::once((longest(&sandbox.delay), sandbox.span)).chain(sandbox.endpoints.iter().flat_map(|e| {
            std::iter::once(&e.response)
                .chain(e.sequence.iter().map(|r| &r.response))
                .chain(e.every.iter().map(|(_, r)| r))
                .map(move |r| (longest(&r.delay), e.span))
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
