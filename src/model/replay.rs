//! The `replay` action: a recorded request sent again.

use super::action::{ActionSpec, Resource};
use super::{Spanned, Template};
use std::any::Any;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct ReplayAction {
    /// The sandbox whose recordings are read (a plan's sandbox, unless `folder` is set).
    pub sandbox: Spanned<String>,
    /// Read the recordings from this sandbox folder instead: a sandbox outside the plan (the
    /// one `hookplan sandbox start` runs), as `hookplan sandbox replay` does.
    pub folder: Option<PathBuf>,
    /// A glob over the recorded path; `None` = every request.
    pub path: Option<String>,
    /// Which matching request: 1 = first; negative counts from the end (-1 = last).
    pub index: i64,
    /// A recorded request id (`POST_1707389523456`): when set, `path` and `index` are not used.
    pub id: Option<String>,
    /// Where to send it. A URL without a path gets the recorded path and query.
    pub to: Template,
}

impl ActionSpec for ReplayAction {
    fn kind(&self) -> &'static str {
        "replay"
    }

    fn templates(&self) -> Vec<&Template> {
        vec![&self.to]
    }

    fn resources(&self) -> Vec<(Resource, &Spanned<String>)> {
        match self.folder {
            Some(_) => Vec::new(),
            None => vec![(Resource::Sandbox, &self.sandbox)],
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
