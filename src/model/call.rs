//! The `call` action: a webhook of the registry called for an event (the spec's
//! `hook.read('CODE')` then `hook.call('EVENT')`), with its method, auth and credentials.

use super::action::{ActionSpec, Resource};
use super::{Body, SignSpec, Spanned, Template};
use std::any::Any;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct CallAction {
    /// The webhook's code in the registry.
    pub code: Spanned<String>,
    pub event: Template,
    /// The registry: a `database` of the plan or the project config, or the implicit one.
    pub database: Spanned<String>,
    /// `None`: `{"event": EVENT, "webhook": CODE}`.
    pub payload: Option<Body>,
    /// Replaces the registered URL (the spec's `hook._Baseurl = sandbox`).
    pub url: Option<Template>,
    /// A secret store to read the webhook's credentials from, by the store's name pattern;
    /// those it does not hold are the registry's.
    pub credentials: Option<Spanned<String>>,
    pub sign: Option<SignSpec>,
}

impl ActionSpec for CallAction {
    fn kind(&self) -> &'static str {
        "call"
    }

    fn templates(&self) -> Vec<&Template> {
        let mut out = vec![&self.event];
        if let Some(url) = &self.url {
            out.push(url);
        }
        if let Some(Body::Json(t) | Body::Text(t)) = &self.payload {
            out.push(t);
        }
        if let Some(sign) = &self.sign {
            out.push(&sign.secret);
        }
        out
    }

    fn resources(&self) -> Vec<(Resource, &Spanned<String>)> {
        let mut out = vec![(Resource::Database, &self.database)];
        if let Some(store) = &self.credentials {
            out.push((Resource::Store, store));
        }
        out
    }

    fn files(&self) -> Vec<&Spanned<PathBuf>> {
        match &self.payload {
            Some(Body::File(path)) => vec![path],
            _ => Vec::new(),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
