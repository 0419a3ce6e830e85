//! `hookplan graph PLAN [--format text|dot|mermaid]`

use super::{CliError, ExitCode};
use crate::graph::{GraphFormat, render};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// The plan file
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,

    /// How to draw the graph
    #[arg(long, value_enum, default_value = "text")]
    pub format: GraphFormat,
}

pub fn run(args: GraphArgs, config: &crate::plan::ProjectConfig) -> Result<ExitCode, CliError> {
    let loaded = super::load_plan(&args.plan, config)?;
    print!("{}", render(&loaded.plan, &loaded.graph, args.format));
    Ok(ExitCode::Success)
}
