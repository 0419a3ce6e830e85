//! The command line: arguments, commands, and the one place errors are printed.

mod backups;
mod call;
mod check;
mod direct;
mod error;
mod fmt;
mod graph;
mod logs;
mod migrate;
mod one_step;
mod preview;
mod registry;
mod render;
mod report;
mod rollback;
mod run;
mod sandbox;
mod status;
mod store;
mod verify;
mod webhooks;

pub use error::{CliError, ErrorKind};

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

/// Exit codes, the same for every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything passed.
    Success = 0,
    /// A step or an expectation failed.
    Failed = 1,
    /// The plan or the command line is invalid.
    Invalid = 2,
    /// Refused for safety.
    Refused = 3,
    /// Interrupted (Ctrl-C); a partial report was still written.
    Interrupted = 130,
}

const EXIT_CODES: &str = "\
Exit codes:
  0    everything passed
  1    a step or an expectation failed
  2    the plan or the command line is invalid
  3    refused for safety (drift against an approved preview, a lock held, a checksum mismatch,
       a rollback over changes made since the migration)
  130  interrupted (a partial report is still written)";

#[derive(Debug, Parser)]
#[command(
    name = "hookplan",
    version,
    about = "Run declarative plan files for webhook operations",
    long_about = "Run declarative plan files (KDL) for webhook operations: sandboxes with fault injection, \
                  retrying webhook calls with verification, and reproducible reports for CI.",
    after_long_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Where hookplan keeps its state (sandboxes, runs, backups)
    #[arg(
        long,
        global = true,
        env = "HOOKPLAN_STATE_DIR",
        value_name = "DIR",
        default_value = ".hookplan"
    )]
    pub state_dir: PathBuf,

    /// The project config [default: hookplan.kdl in the working directory, if there is one]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// How runs log on stderr: lines for people, or JSON lines (every credential masked)
    #[arg(
        long,
        global = true,
        value_enum,
        env = "HOOKPLAN_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: logs::LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check plan files and report every problem at once
    #[command(after_help = "Example:\n  hookplan check plans/*.kdl")]
    Check(check::CheckArgs),

    /// Run a plan: steps in dependency order, live progress, reports
    #[command(
        after_help = "Examples:\n  hookplan run plans/quickstart.kdl\n  hookplan run plans/quickstart.kdl --time-scale 0 --report-dir reports/\n  hookplan run plans/smoke.kdl --var region=eu --only deliver --dry-run\n  hookplan run plans/migrate.kdl --approved preview.json   # exit 3 if anything drifted"
    )]
    Run(run::RunArgs),

    /// Convert a report.json into JUnit XML, Markdown or JSON
    #[command(
        after_help = "Example:\n  hookplan report reports/report.json --format junit > junit.xml"
    )]
    Report(report::ReportArgs),

    /// Show a plan's step graph
    #[command(
        after_help = "Examples:\n  hookplan graph plans/quickstart.kdl\n  hookplan graph plans/quickstart.kdl --format dot | dot -Tsvg > graph.svg"
    )]
    Graph(graph::GraphArgs),

    /// Rewrite plan files in the canonical layout, keeping comments
    #[command(
        after_help = "Examples:\n  hookplan fmt plans/*.kdl\n  hookplan fmt --check plans/*.kdl    # in CI: exit 1 if a file would change"
    )]
    Fmt(fmt::FmtArgs),

    /// A local webhook endpoint that records requests and injects faults
    #[command(after_help = "Examples:
  hookplan sandbox start --port 8888 --error-rate 0.2
  hookplan sandbox list-requests
  hookplan sandbox replay POST_1707389523456 --url http://127.0.0.1:9000
  hookplan sandbox configure-endpoint /webhook/payment --status 201 --file response.json")]
    Sandbox(sandbox::SandboxArgs),

    /// Call a webhook of the registry for an event, with its credentials and retry
    #[command(after_help = "Examples:
  hookplan call TEST_WEBHOOK DONE
  hookplan call TEST_WEBHOOK DONE --url http://127.0.0.1:8888/webhook/test
  hookplan call STRIPE_PAYMENT DONE --payload order.json --database legacy")]
    Call(call::CallArgs),

    /// Manage the webhook registry that `call` reads: list, show, add, set-url, remove
    #[command(after_help = "Examples:
  hookplan webhooks list
  hookplan webhooks show STRIPE_PAYMENT
  hookplan webhooks add STRIPE_PAYMENT --url https://api.stripe.com/v1/charges --key-env STRIPE_KEY
  hookplan webhooks set-url STRIPE_PAYMENT http://127.0.0.1:8888/webhook/stripe
  hookplan webhooks remove STRIPE_PAYMENT --database legacy

Credentials come from environment variables (--key-env VAR) or standard input (--stdin), never
from the command line; every display masks them.")]
    Webhooks(webhooks::WebhooksArgs),

    /// Show where each webhook's credentials stand: in the registry, in the secret store, or both
    #[command(after_help = "Examples:
  hookplan status
  hookplan status --direction OUT --pattern \"STRIPE_*\"
  hookplan status --webhook STRIPE_PAYMENT --store infisical --json

Status is Migrated (the store holds every credential with the same value), Pending (not in the
store yet), Mismatch (the store holds another value) or No credentials. No value is shown.")]
    Status(status::StatusArgs),

    /// Back up a selection's credentials and the store's values, as `migrate` does first
    #[command(after_help = "Examples:
  hookplan backup
  hookplan backup --direction IN --pattern 'STRIPE_*'
  hookplan backup --webhook STRIPE_PAYMENT --store infisical

The backup (STATE_DIR/backups/backup_{DIR}_{YYYY-MM-DD_HHMMSS}.json, mode 0600) holds the
values; nothing printed does.")]
    Backup(backups::BackupArgs),

    /// Migrate webhook credentials from the registry into the secret store: backup first, then
    /// write, read back and verify
    #[command(after_help = "Examples:
  hookplan migrate --dry-run
  hookplan migrate
  hookplan migrate --webhook STRIPE_PAYMENT
  hookplan migrate --pattern \"STRIPE_*\"
  hookplan migrate --direction IN
  hookplan migrate --clear-database

A backup (STATE_DIR/backups/backup_{DIR}_{YYYY-MM-DD_HHMMSS}.json, mode 0600) is written before
anything changes; a run that changes nothing writes none. Webhooks the store already holds with
the same values are skipped. Exit 0 when nothing failed (writes awaiting approval are counted
as Pending approval, with a warning), 1 when a webhook failed or was not verified, 130 when
interrupted. No value is printed.")]
    Migrate(migrate::MigrateArgs),

    /// Read the migrated credentials back from the secret store and compare them with the registry
    #[command(after_help = "Examples:
  hookplan verify
  hookplan verify --direction IN --pattern \"STRIPE_*\"
  hookplan verify --webhook STRIPE_PAYMENT --store infisical --json

Each webhook with credentials is Verified successfully (the store holds exactly the registry's
values) or fails, naming the fields that differ or are missing, never a value. Exit 1 when any
webhook fails.")]
    Verify(verify::VerifyArgs),

    /// Restore the secret store and the registry to a backup written before a migration
    #[command(after_help = "Examples:
  hookplan rollback backup_OUT_2026-02-08_143000.json
  hookplan rollback backup_OUT_2026-02-08_143000.json --dry-run
  hookplan rollback ./saved/backup_IN_2026-02-09_080000.json --store infisical --json
  hookplan rollback backup_OUT_2026-02-08_143000.json --force

A bare file name is looked up in STATE_DIR/backups. Target names that did not exist before the
migration are deleted, those that did get their prior value back, and the rows get their
credentials back. Refused (exit 3, nothing changed) when a name or a row was changed since the
migration, when the backup's checksum fails, or when it is of another registry; --force
restores the backup's values anyway. Exit 1 when a webhook failed. No value is shown.")]
    Rollback(rollback::RollbackArgs),

    /// Preview what a plan's migrate steps would touch, for review before `run --approved`
    #[command(after_help = "Examples:
  hookplan preview plans/migrate.kdl --out preview.json
  hookplan preview plans/migrate.kdl --out preview.json --var env=prod
  hookplan run plans/migrate.kdl --approved preview.json

No step runs and nothing is written but the preview (mode 0600; a registry without an id is
given one, in hookplan's own tables): per migrate step its registry (and the registry's id),
store, path and selection, and per webhook the migration would touch its code,
its target names and, for each name, HMAC-SHA256 fingerprints of the row's value and of the
store's value, under a random key kept in the preview. No value, and no plain hash of one, is
written or printed. `run --approved` recomputes the fingerprints and refuses (exit 3, nothing
run) when the plan, a step's registry, store or selection, or any webhook drifted, naming each
webhook and how.")]
    Preview(preview::PreviewArgs),

    /// List the backups in STATE_DIR/backups, their checksums verified
    #[command(after_help = "Examples:\n  hookplan list-backups\n  hookplan list-backups --json")]
    ListBackups(backups::ListBackupsArgs),

    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  hookplan completions bash > ~/.local/share/bash-completion/completions/hookplan"
    )]
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
}

/// Parses the command line, runs the command, prints any error, and returns the exit code.
pub fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitCode::Invalid
            } else {
                ExitCode::Success
            };
            let _ = e.print();
            return std::process::ExitCode::from(code as u8);
        }
    };
    crate::observe::logging::init(render::use_color());
    let code = match run(cli) {
        Ok(code) => code,
        Err(error) => {
            render::error(&error);
            error.code
        }
    };
    std::process::ExitCode::from(code as u8)
}

pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    if matches!(
        cli.command,
        Command::Check(_) | Command::Graph(_) | Command::Fmt(_)
    ) {
        one_malloc_arena();
    }
    let config = || project_config(cli.config.as_deref());
    let logs = |config: &crate::plan::ProjectConfig| logs::LogSetup {
        format: cli.log_format,
        file: config.log_file.clone(),
    };
    match cli.command {
        Command::Check(args) => check::run(args, &config()?),
        Command::Run(args) => {
            let config = config()?;
            run::run(args, &cli.state_dir, &config, &logs(&config))
        }
        Command::Report(args) => report::run(args),
        Command::Graph(args) => graph::run(args, &config()?),
        Command::Fmt(args) => fmt::run(args),
        Command::Sandbox(args) => sandbox::run(
            args,
            &cli.state_dir,
            &logs::LogSetup {
                format: cli.log_format,
                file: None,
            },
        ),
        Command::Call(args) => {
            let config = config()?;
            call::run(args, &cli.state_dir, &config, &logs(&config))
        }
        Command::Webhooks(args) => webhooks::run(args, &config()?, &cli.state_dir),
        Command::Status(args) => {
            let config = config()?;
            status::run(args, &cli.state_dir, &config, &logs(&config))
        }
        Command::Backup(args) => {
            let config = config()?;
            backups::backup(args, &cli.state_dir, &config, &logs(&config))
        }
        Command::Verify(args) => {
            let config = config()?;
            verify::run(args, &cli.state_dir, &config, &logs(&config))
        }
        Command::Migrate(args) => {
            let config = config()?;
            migrate::run(args, &cli.state_dir, &config, &logs(&config))
        }
        Command::Rollback(args) => {
            let config = config()?;
            rollback::run(args, &cli.state_dir, &config, &logs(&config))
        }
        Command::Preview(args) => preview::run(args, &cli.state_dir, &config()?),
        Command::ListBackups(args) => backups::list(args, &cli.state_dir),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "hookplan",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::Success)
        }
    }
}

/// The plan commands parse on a second thread (for its large stack, see `plan::syntax`). With
/// glibc that thread would get its own malloc arena, which grows a page at a time: parsing a
/// 1 MB plan then costs ~26,000 `mprotect` calls, about a tenth of the time. These commands
/// have no concurrent allocation worth separate arenas, so they use the main one.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any other thread
    // of this process exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// The project config: `--config FILE`, else `hookplan.kdl` in the working directory.
fn project_config(
    explicit: Option<&std::path::Path>,
) -> Result<crate::plan::ProjectConfig, CliError> {
    crate::plan::ProjectConfig::find(explicit, std::path::Path::new(".")).map_err(|error| match error {
        crate::plan::LoadError::Source(crate::plan::SourceError::Unreadable { path, reason }) => {
            CliError::usage(format!("cannot read the project config {path}: {reason}"))
                .with_help("--config names a file like hookplan.kdl; without it, hookplan.kdl in the working directory is used if there is one")
        }
        other => load_error(other),
    })
}

fn load_error(error: crate::plan::LoadError) -> CliError {
    match error {
        crate::plan::LoadError::Plan(errors) => CliError::plan(errors),
        crate::plan::LoadError::Source(error) => {
            let help = error.help();
            CliError::usage(error.to_string()).with_help(help)
        }
    }
}

/// Loads a plan for a command that needs a valid one; warnings are shown, errors returned.
fn load_plan(
    path: &std::path::Path,
    config: &crate::plan::ProjectConfig,
) -> Result<crate::plan::LoadedPlan, CliError> {
    let loaded = crate::plan::load_with(path, config).map_err(load_error)?;
    if !loaded.warnings.is_empty() {
        let file = crate::plan::FileDiagnostics {
            file: loaded.file.clone(),
            diagnostics: loaded.warnings.clone(),
        };
        eprint!("{}", render::diagnostics(&file));
    }
    Ok(loaded)
}
