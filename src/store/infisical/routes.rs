//! Every request the client sends, as the tables of `reference/infisical-api.md` write it: the
//! method, the path, the query keys and the body keys, per API version. Pure: no I/O.
//!
//! v4 names the project `projectId`; v3 "raw" names it `workspaceId` (in the query of reads,
//! in the body of writes). Folders are `/api/v1/folders` on both, with `workspaceId`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::store::SecretValue;

/// The secrets API a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    V4,
    V3,
}

impl Api {
    fn project_key(self) -> &'static str {
        match self {
            Self::V4 => "projectId",
            Self::V3 => "workspaceId",
        }
    }

    /// `/api/v4/secrets` or `/api/v3/secrets/raw`.
    fn secrets(self) -> &'static [&'static str] {
        match self {
            Self::V4 => &["api", "v4", "secrets"],
            Self::V3 => &["api", "v3", "secrets", "raw"],
        }
    }

    /// `/api/v4/secrets/batch` or `/api/v3/secrets/batch/raw`.
    fn batch(self) -> &'static [&'static str] {
        match self {
            Self::V4 => &["api", "v4", "secrets", "batch"],
            Self::V3 => &["api", "v3", "secrets", "batch", "raw"],
        }
    }
}

/// Where secrets live: a project, an environment (slug) and a folder (`/webhooks`).
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub project: &'a str,
    pub environment: &'a str,
    pub path: &'a str,
}

/// One request, before it has a host. Its body may hold values: it has no `Debug`.
pub struct Route {
    pub method: Method,
    /// Path segments, each percent-encoded when the URL is built (a secret's name is one).
    pub segments: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    /// Whether the request carries the access token (everything but the login).
    pub authenticated: bool,
}

impl Route {
    fn new(method: Method, base: &[&str]) -> Self {
        Self {
            method,
            segments: base.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: None,
            authenticated: true,
        }
    }

    fn segment(mut self, segment: &str) -> Self {
        self.segments.push(segment.to_string());
        self
    }

    fn query(mut self, pairs: Vec<(&'static str, String)>) -> Self {
        self.query = pairs;
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The path as the server sees it (names percent-encoded).
    #[cfg(test)]
    pub fn path(&self) -> String {
        let mut url = url::Url::parse("http://h/").expect("a valid URL");
        self.append_to(&mut url);
        url.path().to_string()
    }

    /// The full URL under `base` (which may have a path of its own, e.g. behind a proxy).
    pub fn url(&self, base: &url::Url) -> url::Url {
        let mut url = base.clone();
        self.append_to(&mut url);
        url
    }

    fn append_to(&self, url: &mut url::Url) {
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(&self.segments);
        }
        if !self.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in &self.query {
                pairs.append_pair(key, value);
            }
        }
    }
}

fn place_query(api: Api, at: Place<'_>) -> Vec<(&'static str, String)> {
    vec![
        (api.project_key(), at.project.to_string()),
        ("environment", at.environment.to_string()),
        ("secretPath", at.path.to_string()),
    ]
}

fn place_body(api: Api, at: Place<'_>) -> serde_json::Map<String, Value> {
    let mut body = serde_json::Map::new();
    body.insert(api.project_key().into(), at.project.into());
    body.insert("environment".into(), at.environment.into());
    body.insert("secretPath".into(), at.path.into());
    body
}

/// `POST /api/v1/auth/universal-auth/login` `{"clientId","clientSecret"}`.
pub fn login(client_id: &str, client_secret: &SecretValue) -> Route {
    let mut route = Route::new(
        Method::POST,
        &["api", "v1", "auth", "universal-auth", "login"],
    )
    .body(json!({"clientId": client_id, "clientSecret": client_secret.expose()}));
    route.authenticated = false;
    route
}

/// `GET …secrets?{project}=&environment=&secretPath=&viewSecretValue=true&recursive=false&include_imports=false`.
pub fn list(api: Api, at: Place<'_>) -> Route {
    let mut query = place_query(api, at);
    query.extend([
        ("viewSecretValue", "true".to_string()),
        ("recursive", "false".to_string()),
        ("include_imports", "false".to_string()),
    ]);
    Route::new(Method::GET, api.secrets()).query(query)
}

/// `GET …secrets/{name}?{project}=&environment=&secretPath=&type=shared`.
pub fn get(api: Api, at: Place<'_>, name: &str) -> Route {
    let mut query = place_query(api, at);
    query.push(("type", "shared".to_string()));
    Route::new(Method::GET, api.secrets())
        .segment(name)
        .query(query)
}

/// `POST …secrets/{name}` `{project, environment, secretPath, secretValue, secretComment: "", type: "shared"}`.
pub fn create(api: Api, at: Place<'_>, name: &str, value: &SecretValue) -> Route {
    let mut body = place_body(api, at);
    body.insert("secretValue".into(), value.expose().into());
    body.insert("secretComment".into(), "".into());
    body.insert("type".into(), "shared".into());
    Route::new(Method::POST, api.secrets())
        .segment(name)
        .body(Value::Object(body))
}

/// `PATCH …secrets/{name}` `{project, environment, secretPath, secretValue, type: "shared"}`.
pub fn update(api: Api, at: Place<'_>, name: &str, value: &SecretValue) -> Route {
    let mut body = place_body(api, at);
    body.insert("secretValue".into(), value.expose().into());
    body.insert("type".into(), "shared".into());
    Route::new(Method::PATCH, api.secrets())
        .segment(name)
        .body(Value::Object(body))
}

/// `DELETE …secrets/{name}` with the JSON body `{project, environment, secretPath, type: "shared"}`.
pub fn delete(api: Api, at: Place<'_>, name: &str) -> Route {
    let mut body = place_body(api, at);
    body.insert("type".into(), "shared".into());
    Route::new(Method::DELETE, api.secrets())
        .segment(name)
        .body(Value::Object(body))
}

/// `POST …batch` `{project, environment, secretPath, secrets: [{secretKey, secretValue}]}`.
pub fn batch_create(api: Api, at: Place<'_>, secrets: &[(&str, &SecretValue)]) -> Route {
    let mut body = place_body(api, at);
    body.insert("secrets".into(), key_values(secrets));
    Route::new(Method::POST, api.batch()).body(Value::Object(body))
}

/// How a batch update treats names the server does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// v4 only: create what is missing, update the rest, in one call.
    Upsert,
    /// Every name must exist. Sent as `failOnNotFound` on v4; on v3 the key is left out, since
    /// it is the v3 servers' only behaviour and older ones do not know the key.
    FailOnNotFound,
}

/// `PATCH …batch` `{project, environment, secretPath, mode, secrets: [{secretKey, secretValue}]}`.
pub fn batch_update(
    api: Api,
    at: Place<'_>,
    secrets: &[(&str, &SecretValue)],
    mode: Mode,
) -> Route {
    let mut body = place_body(api, at);
    match (api, mode) {
        (Api::V4, Mode::Upsert) => _ = body.insert("mode".into(), "upsert".into()),
        (Api::V4, Mode::FailOnNotFound) => {
            _ = body.insert("mode".into(), "failOnNotFound".into());
        }
        // v3 has no upsert: the writer never asks for one there.
        (Api::V3, _) => {}
    }
    body.insert("secrets".into(), key_values(secrets));
    Route::new(Method::PATCH, api.batch()).body(Value::Object(body))
}

/// `DELETE …batch` `{project, environment, secretPath, secrets: [{secretKey, type: "shared"}]}`.
pub fn batch_delete(api: Api, at: Place<'_>, names: &[&str]) -> Route {
    let mut body = place_body(api, at);
    let secrets = names
        .iter()
        .map(|name| json!({"secretKey": name, "type": "shared"}))
        .collect();
    body.insert("secrets".into(), Value::Array(secrets));
    Route::new(Method::DELETE, api.batch()).body(Value::Object(body))
}

/// `POST /api/v1/folders` `{"workspaceId","environment","name","path"}`: folder `name` inside
/// the folder `parent`.
pub fn create_folder(project: &str, environment: &str, parent: &str, name: &str) -> Route {
    Route::new(Method::POST, &["api", "v1", "folders"]).body(json!({
        "workspaceId": project,
        "environment": environment,
        "name": name,
        "path": parent,
    }))
}

/// Each level of a folder, top down, as (parent, name): `/a/b` → (`/`, `a`), (`/a`, `b`).
pub fn folder_levels(path: &str) -> Vec<(String, String)> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    (0..parts.len())
        .map(|i| (format!("/{}", parts[..i].join("/")), parts[i].to_string()))
        .collect()
}

fn key_values(secrets: &[(&str, &SecretValue)]) -> Value {
    Value::Array(
        secrets
            .iter()
            .map(|(name, value)| json!({"secretKey": name, "secretValue": value.expose()}))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Place<'static> = Place {
        project: "proj-1",
        environment: "prod",
        path: "/webhooks",
    };

    fn base() -> url::Url {
        url::Url::parse("https://infisical.example/").unwrap()
    }

    fn keys(route: &Route) -> Vec<String> {
        route
            .body
            .as_ref()
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn list_names_the_project_by_version() {
        let v4 = list(Api::V4, AT).url(&base());
        assert_eq!(
            v4.as_str(),
            "https://infisical.example/api/v4/secrets?projectId=proj-1&environment=prod&secretPath=%2Fwebhooks&viewSecretValue=true&recursive=false&include_imports=false"
        );
        let v3 = list(Api::V3, AT).url(&base());
        assert_eq!(v3.path(), "/api/v3/secrets/raw");
        assert!(
            v3.query()
                .unwrap()
                .starts_with("workspaceId=proj-1&environment=prod&")
        );
        assert!(list(Api::V4, AT).body.is_none());
    }

    #[test]
    fn get_asks_for_the_shared_secret_and_encodes_the_name() {
        let route = get(Api::V4, AT, "WEBHOOK OUT/X");
        assert_eq!(route.method, Method::GET);
        assert_eq!(route.path(), "/api/v4/secrets/WEBHOOK%20OUT%2FX");
        let url = route.url(&base());
        assert_eq!(
            url.query(),
            Some("projectId=proj-1&environment=prod&secretPath=%2Fwebhooks&type=shared")
        );
        assert_eq!(get(Api::V3, AT, "K").path(), "/api/v3/secrets/raw/K");
    }

    #[test]
    fn writes_put_the_project_in_the_body() {
        let value = SecretValue::new("v");
        let route = create(Api::V4, AT, "K", &value);
        assert_eq!(
            (route.method.clone(), route.path()),
            (Method::POST, "/api/v4/secrets/K".into())
        );
        assert_eq!(
            keys(&route),
            [
                "projectId",
                "environment",
                "secretPath",
                "secretValue",
                "secretComment",
                "type"
            ]
        );
        assert!(route.query.is_empty());
        let route = update(Api::V3, AT, "K", &value);
        assert_eq!(
            (route.method.clone(), route.path()),
            (Method::PATCH, "/api/v3/secrets/raw/K".into())
        );
        assert_eq!(
            keys(&route),
            [
                "workspaceId",
                "environment",
                "secretPath",
                "secretValue",
                "type"
            ]
        );
        let route = delete(Api::V4, AT, "K");
        assert_eq!(route.method, Method::DELETE);
        assert_eq!(
            keys(&route),
            ["projectId", "environment", "secretPath", "type"]
        );
    }

    #[test]
    fn batches_by_version_and_mode() {
        let value = SecretValue::new("v");
        let pairs = [("A", &value), ("B", &value)];
        let route = batch_create(Api::V3, AT, &pairs);
        assert_eq!(
            (route.method.clone(), route.path()),
            (Method::POST, "/api/v3/secrets/batch/raw".into())
        );
        assert_eq!(
            route.body.as_ref().unwrap()["secrets"],
            json!([{"secretKey": "A", "secretValue": "v"}, {"secretKey": "B", "secretValue": "v"}])
        );
        let route = batch_update(Api::V4, AT, &pairs, Mode::Upsert);
        assert_eq!(
            (route.method.clone(), route.path()),
            (Method::PATCH, "/api/v4/secrets/batch".into())
        );
        assert_eq!(route.body.as_ref().unwrap()["mode"], "upsert");
        let route = batch_update(Api::V4, AT, &pairs, Mode::FailOnNotFound);
        assert_eq!(route.body.as_ref().unwrap()["mode"], "failOnNotFound");
        let route = batch_update(Api::V3, AT, &pairs, Mode::FailOnNotFound);
        assert!(route.body.as_ref().unwrap().get("mode").is_none());
        let route = batch_delete(Api::V4, AT, &["A"]);
        assert_eq!(route.method, Method::DELETE);
        assert_eq!(
            route.body.as_ref().unwrap()["secrets"],
            json!([{"secretKey": "A", "type": "shared"}])
        );
    }

    #[test]
    fn login_and_folders() {
        let route = login("id", &SecretValue::new("s"));
        assert!(!route.authenticated);
        assert_eq!(route.path(), "/api/v1/auth/universal-auth/login");
        assert_eq!(
            route.body,
            Some(json!({"clientId": "id", "clientSecret": "s"}))
        );
        let route = create_folder("p", "prod", "/", "webhooks");
        assert_eq!(
            (route.method.clone(), route.path()),
            (Method::POST, "/api/v1/folders".into())
        );
        assert_eq!(
            route.body,
            Some(
                json!({"workspaceId": "p", "environment": "prod", "name": "webhooks", "path": "/"})
            )
        );
        assert_eq!(
            folder_levels("/webhooks/out"),
            [
                ("/".to_string(), "webhooks".to_string()),
                ("/webhooks".into(), "out".into())
            ]
        );
        assert!(folder_levels("/").is_empty());
    }

    #[test]
    fn a_base_url_with_a_path_keeps_it() {
        let base = url::Url::parse("https://proxy.example/infisical/").unwrap();
        assert_eq!(
            list(Api::V4, AT).url(&base).path(),
            "/infisical/api/v4/secrets"
        );
        let base = url::Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(get(Api::V4, AT, "K").url(&base).path(), "/api/v4/secrets/K");
    }
}
