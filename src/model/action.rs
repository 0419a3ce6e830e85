//! A step's action, whatever its kind: the model half of a step kind.
//!
//! Each kind's model type implements [`ActionSpec`]; the plan reader builds one through the
//! kind's decoder (`plan::kinds`) and the engine finds the kind's runner by [`Action::kind`]
//! (`steps::RUNNERS`). Nothing outside a kind's own modules matches on kinds, so adding one
//! takes no edit here.

use super::{Span, Spanned, Template};
use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;

/// Something a step depends on by name, besides what its templates read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Sandbox,
    Database,
    Store,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Sandbox => "sandbox",
            Resource::Database => "database",
            Resource::Store => "secret-store",
        }
    }
}

/// What one step kind's model value tells the rest of the plan about itself.
pub trait ActionSpec: std::fmt::Debug + Send + Sync + 'static {
    /// The node name (`http`, `replay`, …).
    fn kind(&self) -> &'static str;

    /// Every template it holds, for checking and for resolution before the run.
    fn templates(&self) -> Vec<&Template>;

    /// Sandboxes (later: databases, stores) it names directly; it depends on them implicitly.
    fn resources(&self) -> Vec<(Resource, &Spanned<String>)> {
        Vec::new()
    }

    /// Files it reads, relative to the plan's folder: `check` reports those that are missing.
    fn files(&self) -> Vec<&Spanned<PathBuf>> {
        Vec::new()
    }

    fn as_any(&self) -> &dyn Any;
}

/// A step's action: one value of any kind, cheap to clone.
#[derive(Debug, Clone)]
pub struct Action {
    spec: Arc<dyn ActionSpec>,
    /// Where the action node was written.
    pub span: Span,
}

impl Action {
    pub fn new(spec: impl ActionSpec, span: Span) -> Self {
        Self {
            spec: Arc::new(spec),
            span,
        }
    }

    pub fn kind(&self) -> &'static str {
        self.spec.kind()
    }

    pub fn spec(&self) -> &dyn ActionSpec {
        &*self.spec
    }

    /// The action as its kind's model type, if it is of that kind.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.spec.as_any().downcast_ref::<T>()
    }
}

/// Stands in for an action that failed to decode (already reported), so that steps naming the
/// step do not report it missing too. A plan holding one never runs.
#[derive(Debug)]
pub struct Undecoded;

impl ActionSpec for Undecoded {
    fn kind(&self) -> &'static str {
        "undecoded"
    }

    fn templates(&self) -> Vec<&Template> {
        Vec::new()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
