//! `infisical { project "demo-project"; environment "prod"; identity client-id="…"
//! client-secret="${secret.…}"; api "both"; approval-required #false; state "vault";
//! token-ttl "2h"; token-max-ttl "2h"; faults-after-write 0.5; secret "NAME" "VALUE" }`
//! inside a `sandbox`.

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::grammar;
use super::super::raw::RawNode;
use super::super::reader::{self, NodeReader, once};
use super::template;
use crate::model::{InfisicalApi, InfisicalDecl, InfisicalSeedDecl, Span, Template};
use std::time::Duration;

/// The longest token lifetime: Infisical's own limit is 315 360 000 s (ten years).
const MAX_TTL: Duration = Duration::from_secs(315_360_000);

/// The emulation's settings as the plan gives them; what it leaves out takes the defaults of
/// `hookplan sandbox start --infisical`.
pub fn decode(node: &RawNode, sandbox: &str, diags: &mut Diagnostics) -> Option<InfisicalDecl> {
    NodeReader::new(node, diags).finish();
    let mut decl = InfisicalDecl {
        span: node.name_span,
        project: "demo-project".into(),
        environment: "prod".into(),
        client_id: "demo-client".into(),
        client_secret: Template::literal("demo-secret", node.name_span),
        api: InfisicalApi::Both,
        approval_required: false,
        state: None,
        token_ttl: Duration::from_secs(7200),
        token_max_ttl: None,
        faults_after_write: 0.0,
        secrets: Vec::new(),
    };
    let context = format!("`infisical` of sandbox \"{sandbox}\"");
    let mut seen = Vec::new();
    let mut ok = true;
    for child in node.children() {
        let kind = child.name.as_str();
        if !grammar::nodes("infisical").contains(&kind) {
            reader::unknown_node(child, &context, grammar::nodes("infisical"), diags);
            ok = false;
            continue;
        }
        if kind != "secret" && !once(&mut seen, child, diags) {
            ok = false;
            continue;
        }
        let mut c = NodeReader::new(child, diags);
        let decoded = match kind {
            "project" => word(&mut c, "project \"demo-project\"").map(|v| decl.project = v),
            "environment" => word(&mut c, "environment \"prod\"").map(|v| decl.environment = v),
            "identity" => identity(&mut c).map(|(id, secret)| {
                decl.client_id = id;
                decl.client_secret = secret;
            }),
            "api" => api(&mut c).map(|v| decl.api = v),
            "approval-required" => c
                .value("approval-required #true")
                .and_then(|v| reader::boolean(v, "`approval-required`", c.diags))
                .map(|b| decl.approval_required = b.value),
            "state" => c
                .value("state \"vault\"")
                .and_then(|v| reader::string(v, "`state`", "state \"vault\"", c.diags))
                .and_then(|name| {
                    if super::check_name(&name, "state", c.diags) {
                        decl.state = Some(name.value);
                        Some(())
                    } else {
                        None
                    }
                }),
            "token-ttl" => ttl(&mut c, "token-ttl \"2h\"").map(|d| decl.token_ttl = d),
            "token-max-ttl" => {
                ttl(&mut c, "token-max-ttl \"24h\"").map(|d| decl.token_max_ttl = Some(d))
            }
            "faults-after-write" => c
                .value("faults-after-write 0.5")
                .and_then(|v| {
                    reader::float(
                        v,
                        "`faults-after-write`",
                        0.0,
                        1.0,
                        "faults-after-write 0.5",
                        c.diags,
                    )
                })
                .map(|f| decl.faults_after_write = f.value),
            "secret" => seed(&mut c).map(|s| decl.secrets.push(s)),
            _ => unreachable!("checked against the grammar above"),
        };
        c.finish();
        ok &= decoded.is_some();
    }
    if let Some(max) = decl.token_max_ttl
        && max < decl.token_ttl
    {
        diags.push(
            Diagnostic::error(
                "hookplan::bad-range",
                "`token-max-ttl` is shorter than `token-ttl`",
                node.name_span,
                "max TTL below the TTL",
            )
            .with_help(
                "a token's max TTL is at least its TTL: raise `token-max-ttl` or lower `token-ttl`",
            ),
        );
        ok = false;
    }
    check_seeds(&decl.secrets, diags, &mut ok);
    ok.then_some(decl)
}

/// A non-empty string without spaces (a project id, an environment slug, a client id).
fn word(c: &mut NodeReader, example: &str) -> Option<String> {
    let name = c.node.name.clone();
    let value = c
        .value(example)
        .and_then(|v| reader::string(v, &format!("`{name}`"), example, c.diags))?;
    if value.value.is_empty() || value.value.contains(char::is_whitespace) {
        c.diags.push(
            Diagnostic::error(
                "hookplan::bad-value",
                format!("`{name}` must be a non-empty word without spaces"),
                value.span,
                "empty or has spaces",
            )
            .with_help(format!("write it as `{example}`")),
        );
        return None;
    }
    Some(value.value)
}

fn identity(c: &mut NodeReader) -> Option<(String, Template)> {
    const EXAMPLE: &str = "identity client-id=\"demo-client\" client-secret=\"${secret.DEMO_CLIENT_SECRET:-demo-secret}\"";
    c.no_children();
    let id = c.string_prop("client-id", "client-id=\"demo-client\"");
    let secret = c
        .prop("client-secret")
        .map(|p| template(&p.entry, "`client-secret`", EXAMPLE, c.diags));
    let node = c.node;
    match (id, secret) {
        (Some(id), Some(Some(secret))) if !id.value.is_empty() => Some((id.value, secret)),
        (Some(id), Some(_)) if id.value.is_empty() => {
            c.diags.push(
                Diagnostic::error(
                    "hookplan::bad-value",
                    "the client id is empty",
                    id.span,
                    "empty",
                )
                .with_help(format!("write it as `{EXAMPLE}`")),
            );
            None
        }
        (Some(_), Some(None)) => None,
        (id, secret) => {
            let missing = match (id.is_none(), secret.is_none()) {
                (true, true) => "`client-id=` and `client-secret=`",
                (true, false) => "`client-id=`",
                _ => "`client-secret=`",
            };
            c.diags.push(
                Diagnostic::error(
                    "hookplan::missing-property",
                    format!("`identity` needs {missing}"),
                    node.head_span(),
                    format!("no {missing}"),
                )
                .with_help(format!("write it as `{EXAMPLE}`")),
            );
            None
        }
    }
}

fn api(c: &mut NodeReader) -> Option<InfisicalApi> {
    let value = c
        .value("api \"v4\"")
        .and_then(|v| reader::string(v, "`api`", "api \"v4\"", c.diags))?;
    let api = InfisicalApi::parse(&value.value);
    if api.is_none() {
        c.diags.push(
            Diagnostic::error(
                "hookplan::unknown-value",
                format!("unknown API version \"{}\"", value.value),
                value.span,
                "unknown API version",
            )
            .with_help(format!(
                "use one of: {} (\"v3\" serves only /api/v3/secrets/raw…, like older self-hosted servers)",
                InfisicalApi::NAMES.join(", ")
            )),
        );
    }
    api
}

fn ttl(c: &mut NodeReader, example: &str) -> Option<Duration> {
    let name = c.node.name.clone();
    let d = c
        .value(example)
        .and_then(|v| reader::duration(v, &format!("`{name}`"), example, c.diags))?;
    if d.value < Duration::from_secs(1) || d.value > MAX_TTL {
        reader::out_of_range(
            d.span,
            &format!("`{name}`"),
            "from 1s to 87600h (Infisical counts whole seconds)",
            example,
            c.diags,
        );
        return None;
    }
    Some(Duration::from_secs(d.value.as_secs()))
}

fn seed(c: &mut NodeReader) -> Option<InfisicalSeedDecl> {
    const EXAMPLE: &str = "secret \"WEBHOOK_OUT_DEMO_KEY\" \"value\"";
    c.no_children();
    let name = c.string_arg(0, "a secret name", EXAMPLE);
    let value = c
        .arg(1, "a value", EXAMPLE)
        .and_then(|entry| super::template(entry, "the value", EXAMPLE, c.diags));
    let path = c.string_prop("path", "path=\"/webhooks\"");
    let (name, value) = (name?, value?);
    if name.value.is_empty() || name.value.contains(char::is_whitespace) {
        c.diags.push(
            Diagnostic::error(
                "hookplan::bad-name",
                format!("\"{}\" is not a secret name", name.value),
                name.span,
                "empty or has spaces",
            )
            .with_help("Infisical's secret names are non-empty and hold no spaces"),
        );
        return None;
    }
    let path = match path {
        Some(p) => {
            let Some(path) = crate::model::folder_path(&p.value) else {
                c.diags.push(
                    Diagnostic::error(
                        "hookplan::bad-path",
                        format!("\"{}\" is not a folder path", p.value),
                        p.span,
                        "not a folder path",
                    )
                    .with_help(
                        "write it as path=\"/webhooks\" (folders use letters, digits, `-` and `_`)",
                    ),
                );
                return None;
            };
            path
        }
        None => "/".into(),
    };
    Some(InfisicalSeedDecl {
        name: name.value,
        value,
        path,
        span: name.span,
    })
}

fn check_seeds(seeds: &[InfisicalSeedDecl], diags: &mut Diagnostics, ok: &mut bool) {
    let mut seen: Vec<(&str, &str, Span)> = Vec::new();
    for seed in seeds {
        if let Some((_, _, first)) = seen
            .iter()
            .find(|(n, p, _)| *n == seed.name && *p == seed.path)
        {
            diags.push(
                Diagnostic::error(
                    "hookplan::duplicate-name",
                    format!("secret \"{}\" is seeded twice in {}", seed.name, seed.path),
                    seed.span,
                    "seeded again here",
                )
                .with_related(*first, "first seeded here")
                .with_help("keep one `secret` node per name and folder"),
            );
            *ok = false;
        } else {
            seen.push((&seed.name, &seed.path, seed.span));
        }
    }
}
