//! Plan files: KDL text → raw nodes with spans → the validated model, with every diagnostic
//! of a file collected in one pass.

pub mod config;
mod decode;
mod diagnostic;
pub mod format;
pub mod grammar;
pub mod kinds;
mod raw;
mod reader;
mod scan;
mod source;
mod syntax;
mod validate;

pub use diagnostic::{
    Diagnostic, Diagnostics, FileDiagnostics, PlanErrors, SourceDiagnostic, SourceFile,
};
pub use scan::MAX_NESTING;
pub use source::read as read_source;
pub use source::{MAX_PLAN_BYTES, SourceError};
pub use syntax::{parse_document, parse_v1_document};

pub use config::ProjectConfig;

use crate::graph::StepGraph;
use crate::model::{self, Plan};
use std::path::{Path, PathBuf};

/// A plan that passed every check, ready to run.
#[derive(Debug)]
pub struct LoadedPlan {
    pub plan: Plan,
    pub graph: StepGraph,
    pub file: SourceFile,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Plan(#[from] PlanErrors),
}

/// Reads and checks a plan file with the built-in defaults. Reads no environment variable and
/// no secret.
pub fn load(path: &Path) -> Result<LoadedPlan, LoadError> {
    load_with(path, &ProjectConfig::default())
}

/// Reads and checks a plan file with the project's config.
pub fn load_with(path: &Path, config: &ProjectConfig) -> Result<LoadedPlan, LoadError> {
    let file = read(path)?;
    Ok(check_with(file, path, config)?)
}

/// Reads a plan file. Text that is not UTF-8 is reported as a diagnostic at its first bad byte.
pub fn read(path: &Path) -> Result<SourceFile, LoadError> {
    source::read(path).map_err(|error| match error {
        SourceError::NotUtf8 { path, byte, lossy, at, .. } => {
            let diagnostic = Diagnostic::error(
                "hookplan::not-utf8",
                "the file is not UTF-8 text",
                model::Span::new(at, '\u{fffd}'.len_utf8()),
                format!("byte 0x{byte:02X} is not UTF-8"),
            )
            .with_help("save the file as UTF-8 (an editor's \"encoding\" setting); plans are KDL, which is always UTF-8");
            LoadError::Plan(PlanErrors::single(SourceFile::new(path, lossy), vec![diagnostic]))
        }
        other => LoadError::Source(other),
    })
}

/// Checks plan text read from `path` (relative file references are resolved from its folder).
pub fn check(file: SourceFile, path: &Path) -> Result<LoadedPlan, PlanErrors> {
    check_with(file, path, &ProjectConfig::default())
}

/// Checks plan text with the project's config (its retry policies can be named by steps).
pub fn check_with(
    file: SourceFile,
    path: &Path,
    config: &ProjectConfig,
) -> Result<LoadedPlan, PlanErrors> {
    let mut diags = Diagnostics::default();
    let (document, nodes) = match syntax::parse(&file.text) {
        Ok(parsed) => parsed,
        Err(errors) => return Err(PlanErrors::single(file, errors)),
    };
    // The canonical hash needs only the KDL document, the checks only the raw nodes: on a
    // large plan the hash, and freeing what is no longer needed, run beside the checks.
    let large = nodes.len() > PARALLEL_NODES;
    let (hash, plan, failed, diagnostics) = std::thread::scope(|scope| {
        let mut document = Some(document);
        let hashing = large.then(|| {
            let document = document.take().expect("the document is here");
            scope.spawn(move || format::canonical_hash(&document))
        });
        let decoded = decode::decode(&nodes, &mut diags);
        if large {
            scope.spawn(move || drop(nodes));
        }
        let plan = validate::validate(decoded, &base_dir(path), path, config, &mut diags);
        let failed = diags.has_errors();
        let hash = match (hashing, document) {
            (Some(handle), _) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            (None, Some(document)) if !failed => format::canonical_hash(&document),
            (None, _) => String::new(),
        };
        (hash, plan, failed, diags.into_vec())
    });
    match plan {
        Some(mut plan) if !failed => {
            plan.canonical_hash = hash;
            let graph = StepGraph::new(&plan);
            Ok(LoadedPlan {
                plan,
                graph,
                file,
                warnings: diagnostics,
            })
        }
        _ => Err(PlanErrors::single(file, diagnostics)),
    }
}

/// Top-level nodes beyond which hashing beside the checks pays for its thread.
const PARALLEL_NODES: usize = 200;

/// The folder a plan's relative paths are read from.
pub fn base_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
