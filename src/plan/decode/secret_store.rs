//! `secret-store "infisical" kind="infisical" { api-url "…"; project "…"; environment "prod";
//! path "/webhooks"; auth "universal-auth" client-id="…" client-secret="…"; name "…";
//! api-version "auto"; ca-bundle "certs/ca.pem"; retry "store" }` and
//! `secret-store "local" kind="file" { file "secrets.json" }`.

use super::super::diagnostic::{Diagnostic, Diagnostics};
use super::super::grammar;
use super::super::raw::RawNode;
use super::super::reader::{self, NodeReader, once};
use super::{check_name, template};
use crate::model::suggest::did_you_mean;
use crate::model::{
    API_VERSIONS, DEFAULT_NAME_PATTERN, DEFAULT_STORE_PATH, InfisicalStoreDecl, STORE_KINDS, Span,
    Spanned, StoreDecl, StoreKind, Template, check_pattern,
};
use std::path::PathBuf;

const EXAMPLE: &str = "secret-store \"infisical\" kind=\"infisical\"";

/// The children only one kind of store holds.
const FILE_ONLY: &[&str] = &["file"];
const INFISICAL_ONLY: &[&str] = &[
    "api-url",
    "project",
    "environment",
    "auth",
    "api-version",
    "ca-bundle",
    "retry",
];

/// What an Infisical store must be told.
const INFISICAL_NEEDS: &[(&str, &str)] = &[
    (
        "api-url",
        "api-url \"${env.INFISICAL_API_URL:-https://app.infisical.com}\"",
    ),
    ("project", "project \"${env.INFISICAL_PROJECT_ID}\""),
    ("environment", "environment \"prod\""),
    (
        "auth",
        "auth \"universal-auth\" client-id=\"${env.INFISICAL_CLIENT_ID}\" client-secret=\"${secret.INFISICAL_CLIENT_SECRET}\"",
    ),
];

#[derive(Default)]
struct Infisical {
    api_url: Option<Template>,
    project: Option<Template>,
    environment: Option<Template>,
    client_id: Option<Template>,
    client_secret: Option<Template>,
    api_version: Option<Spanned<String>>,
    ca_bundle: Option<Spanned<PathBuf>>,
    retry: Option<Spanned<String>>,
}

pub fn decode(node: &RawNode, diags: &mut Diagnostics) -> Option<StoreDecl> {
    let mut r = NodeReader::new(node, diags);
    let name = r.string_arg(0, "a name", EXAMPLE);
    let kind = r.string_prop("kind", "kind=\"infisical\"");
    r.finish();
    let name = name.filter(|n| check_name(n, "secret store", diags))?;
    let kind = match kind {
        None => {
            diags.push(
                Diagnostic::error(
                    "hookplan::missing-property",
                    format!("secret-store \"{}\" needs a `kind`", name.value),
                    name.span,
                    "no `kind=`",
                )
                .with_help("add `kind=\"infisical\"` or `kind=\"file\"`"),
            );
            return None;
        }
        Some(kind) if !STORE_KINDS.contains(&kind.value.as_str()) => {
            let mut d = Diagnostic::error(
                "hookplan::unknown-kind",
                format!("\"{}\" is not a kind of secret store", kind.value),
                kind.span,
                "unknown kind",
            );
            d = match did_you_mean(&kind.value, STORE_KINDS.iter().copied()) {
                Some(near) => d.with_help(format!("did you mean `kind=\"{near}\"`?")),
                None => d.with_help("the kinds are `infisical` and `file`"),
            };
            diags.push(d);
            return None;
        }
        Some(kind) => kind,
    };
    let is_file = kind.value == "file";
    let context = format!("secret-store \"{}\"", name.value);

    let mut path = DEFAULT_STORE_PATH.to_string();
    let mut pattern = Spanned::new(DEFAULT_NAME_PATTERN.to_string(), name.span);
    let mut file = None;
    let mut inf = Infisical::default();
    let mut seen = Vec::new();
    let mut ok = true;
    for child in node.children() {
        let child_kind = child.name.as_str();
        if !grammar::nodes("secret-store").contains(&child_kind) {
            reader::unknown_node(child, &context, grammar::nodes("secret-store"), diags);
            ok = false;
            continue;
        }
        let foreign = if is_file {
            INFISICAL_ONLY.contains(&child_kind).then_some("infisical")
        } else {
            FILE_ONLY.contains(&child_kind).then_some("file")
        };
        if let Some(other) = foreign {
            diags.push(
                Diagnostic::error(
                    "hookplan::wrong-kind",
                    format!("`{child_kind}` belongs to a store of kind \"{other}\""),
                    child.name_span,
                    format!("not for kind=\"{}\"", kind.value),
                )
                .with_related(kind.span, "the store's kind")
                .with_help(format!(
                    "remove `{child_kind}`, or make it kind=\"{other}\""
                )),
            );
            ok = false;
            continue;
        }
        if !once(&mut seen, child, diags) {
            ok = false;
            continue;
        }
        let mut c = NodeReader::new(child, diags);
        let decoded = match child_kind {
            "path" => c
                .value("path \"/webhooks\"")
                .and_then(|v| reader::string(v, "`path`", "path \"/webhooks\"", c.diags))
                .and_then(|p| {
                    if !p.value.starts_with('/') {
                        c.diags.push(
                            Diagnostic::error(
                                "hookplan::bad-path",
                                format!("\"{}\" is not a folder of the store", p.value),
                                p.span,
                                "starts with `/`",
                            )
                            .with_help("write `path \"/webhooks\"`"),
                        );
                        return None;
                    }
                    path = crate::store::normalize_path(&p.value);
                    Some(())
                }),
            "name" => c
                .value("name \"WEBHOOK_{direction}_{code}_{field}\"")
                .and_then(|v| {
                    reader::string(
                        v,
                        "`name`",
                        "name \"WEBHOOK_{direction}_{code}_{field}\"",
                        c.diags,
                    )
                })
                .and_then(|p| match check_pattern(&p.value) {
                    Ok(()) => {
                        pattern = p;
                        Some(())
                    }
                    Err(why) => {
                        c.diags.push(
                            Diagnostic::error("hookplan::bad-name-pattern", why, p.span, "here")
                                .with_help("write `name \"WEBHOOK_{direction}_{code}_{field}\"`"),
                        );
                        None
                    }
                }),
            "file" => c
                .value("file \"secrets.json\"")
                .and_then(|v| reader::string(v, "`file`", "file \"secrets.json\"", c.diags))
                .map(|f| file = Some(f.map(PathBuf::from))),
            "api-url" => setting(&mut c, "api-url", "api-url \"https://app.infisical.com\"")
                .map(|t| inf.api_url = Some(t)),
            "project" => setting(&mut c, "project", "project \"${env.INFISICAL_PROJECT_ID}\"")
                .map(|t| inf.project = Some(t)),
            "environment" => setting(&mut c, "environment", "environment \"prod\"")
                .map(|t| inf.environment = Some(t)),
            "auth" => decode_auth(&mut c, &mut inf),
            "api-version" => c
                .value("api-version \"auto\"")
                .and_then(|v| reader::string(v, "`api-version`", "api-version \"auto\"", c.diags))
                .and_then(|v| {
                    if API_VERSIONS.contains(&v.value.as_str()) {
                        inf.api_version = Some(v);
                        return Some(());
                    }
                    c.diags.push(
                        Diagnostic::error(
                            "hookplan::bad-value",
                            format!("\"{}\" is not an Infisical API version", v.value),
                            v.span,
                            "auto, v4 or v3",
                        )
                        .with_help("write `api-version \"auto\"` (v4, falling back to v3 raw), `\"v4\"` or `\"v3\"`"),
                    );
                    None
                }),
            "ca-bundle" => c
                .value("ca-bundle \"certs/ca.pem\"")
                .and_then(|v| reader::string(v, "`ca-bundle`", "ca-bundle \"certs/ca.pem\"", c.diags))
                .map(|f| inf.ca_bundle = Some(f.map(PathBuf::from))),
            "retry" => c
                .value("retry \"store\"")
                .and_then(|v| reader::string(v, "`retry`", "retry \"store\"", c.diags))
                .map(|p| inf.retry = Some(p)),
            _ => unreachable!("checked against the grammar above"),
        };
        ok &= decoded.is_some();
        c.finish();
    }
    let kind = if is_file {
        StoreKind::File { file }
    } else {
        let mut missing = false;
        let given = [
            inf.api_url.is_some(),
            inf.project.is_some(),
            inf.environment.is_some(),
            inf.client_id.is_some() && inf.client_secret.is_some(),
        ];
        for ((child, example), given) in INFISICAL_NEEDS.iter().zip(given) {
            if !given && ok {
                missing = true;
                diags.push(
                    Diagnostic::error(
                        "hookplan::missing-node",
                        format!("{context} needs `{child}`"),
                        name.span,
                        format!("no `{child}`"),
                    )
                    .with_help(format!("add `{example}`")),
                );
            }
        }
        if missing || !ok {
            return None;
        }
        StoreKind::Infisical(Box::new(InfisicalStoreDecl {
            api_url: inf.api_url?,
            project: inf.project?,
            environment: inf.environment?,
            client_id: inf.client_id?,
            client_secret: inf.client_secret?,
            api_version: inf
                .api_version
                .unwrap_or_else(|| Spanned::new("auto".to_string(), Span::default())),
            ca_bundle: inf.ca_bundle,
            retry: inf.retry,
            retry_policy: None,
        }))
    };
    ok.then(|| StoreDecl {
        name: name.value.clone(),
        span: name.span,
        path,
        name_pattern: pattern,
        kind,
    })
}

/// A child holding one template: `project "${env.INFISICAL_PROJECT_ID}"`.
fn setting(c: &mut NodeReader<'_, '_>, what: &str, example: &str) -> Option<Template> {
    let entry = c.value(example)?;
    template(entry, &format!("`{what}`"), example, c.diags)
}

/// `auth "universal-auth" client-id="…" client-secret="…"`.
fn decode_auth(c: &mut NodeReader<'_, '_>, inf: &mut Infisical) -> Option<()> {
    let example = "auth \"universal-auth\" client-id=\"${env.INFISICAL_CLIENT_ID}\" client-secret=\"${secret.INFISICAL_CLIENT_SECRET}\"";
    let method = c
        .value(example)
        .and_then(|v| reader::string(v, "`auth`", example, c.diags))?;
    if method.value != "universal-auth" {
        c.diags.push(
            Diagnostic::error(
                "hookplan::bad-value",
                format!("\"{}\" is not an auth method hookplan speaks", method.value),
                method.span,
                "universal-auth",
            )
            .with_help(format!("write `{example}`")),
        );
        return None;
    }
    let mut props = Vec::new();
    for name in ["client-id", "client-secret"] {
        let prop = c.prop(name);
        match prop {
            None => {
                c.diags.push(
                    Diagnostic::error(
                        "hookplan::missing-property",
                        format!("`auth` needs `{name}`"),
                        c.node.head_span(),
                        format!("no `{name}=`"),
                    )
                    .with_help(format!("write `{example}`")),
                );
                props.push(None);
            }
            Some(p) => props.push(template(&p.entry, &format!("`{name}`"), example, c.diags)),
        }
    }
    let secret = props.pop().flatten();
    let id = props.pop().flatten();
    if let Some(secret) = &secret
        && secret.as_literal().is_some_and(|s| !s.is_empty())
    {
        c.diags.push(
            Diagnostic::error(
                "hookplan::literal-secret",
                "a client secret is written into the plan",
                secret.span,
                "a secret in plain text",
            )
            .with_help("read it from the environment: `client-secret=\"${secret.INFISICAL_CLIENT_SECRET}\"`"),
        );
        return None;
    }
    inf.client_id = Some(id?);
    inf.client_secret = Some(secret?);
    Some(())
}
