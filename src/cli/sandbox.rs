//! `hookplan sandbox start|list-requests|show|replay|configure-endpoint|clear`
//!
//! Everything but `start` works on the sandbox's folder, so it works whether or not the
//! sandbox runs; `configure-endpoint` reaches a running one through that folder too.

use super::{CliError, ExitCode};
use crate::clock::Clock;
use crate::model::InfisicalApi;
use crate::sandbox::config::{
    self as sandbox_config, BodyConfig, ConnectionFault, Delay, EndpointConfig, Every,
    ResponseConfig, SandboxConfig, SequenceEntry,
};
use crate::sandbox::infisical::{InfisicalConfig, config as infisical_config};
use crate::sandbox::printer::{self, RequestPrinter};
use crate::sandbox::{
    self, RecordedRequest, Sandbox, Selection, console, endpoints, recording, replay, state,
};
use clap::Subcommand;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub command: SandboxCommand,

    /// Which sandbox: its recordings and endpoints live in <state-dir>/sandbox/NAME
    #[arg(long, global = true, value_name = "NAME", default_value = sandbox_config::DEFAULT_NAME)]
    pub name: String,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Start a local webhook endpoint that records every request
    #[command(after_help = "Examples:
  hookplan sandbox start                                # http://localhost:8888
  hookplan sandbox start --port 0                       # any free port (printed)
  hookplan sandbox start --error-rate 0.2 --seed 42     # 20% of requests get 503, reproducibly
  hookplan sandbox start --delay 1.5                    # answer after 1.5 s
  hookplan sandbox start --delay 100ms..2s --time-scale 0.01

Routes: any method under /webhook/*, /test and /api/* (200 with a JSON acknowledgement),
plus endpoints set with `configure-endpoint`; anything else gets 404 and is recorded too.

With --infisical the sandbox emulates Infisical's API (universal-auth login and renewal, v4
and v3 raw secrets, batches, folders, versions) under /api/v1/, /api/v3/ and /api/v4/; an API
version it does not serve answers Infisical's 404. Faults (--error-rate, --delay, endpoints
configured on those paths) apply to it like to any route; a fault replaces the answer and
the write is not made, except for the share --infisical-faults-after-write of the faults drawn
for writes, which strike after the write: the answer is lost, the write is kept. Tokens,
client secrets and secret values are masked in every display.
  hookplan sandbox start --infisical --port 0
  hookplan sandbox start --infisical --infisical-api v3 --error-rate 0.3 --infisical-faults-after-write 0.5

Stop with Ctrl+C.")]
    Start(StartArgs),

    /// List recorded requests (the latest session unless --all)
    #[command(after_help = "Examples:
  hookplan sandbox list-requests
  hookplan sandbox list-requests --all --method POST --path '/webhook/*'
  hookplan sandbox list-requests --json --limit 5      # full records, credentials masked")]
    ListRequests(ListArgs),

    /// Show everything about one recorded request
    #[command(after_help = "Example:\n  hookplan sandbox show POST_1707389523456")]
    Show(ShowArgs),

    /// Send a recorded request again (same method, headers and body)
    #[command(after_help = "Examples:
  hookplan sandbox replay POST_1707389523456              # to the sandbox it was recorded by
  hookplan sandbox replay POST_1707389523456 --url http://127.0.0.1:9000
  hookplan sandbox replay POST_1707389523456 --url https://api.stripe.com/v1/charges

A --url without a path gets the recorded path and query; one with a path is used as given.")]
    Replay(ReplayArgs),

    /// Set how an endpoint answers; a running sandbox follows within a second
    #[command(after_help = "Examples:
  hookplan sandbox configure-endpoint /webhook/payment --status 201 --file response.json
  hookplan sandbox configure-endpoint /webhook/slow --status 200 --delay 3
  hookplan sandbox configure-endpoint /webhook/flaky --status 200 --fault reset
  hookplan sandbox configure-endpoint /api/limit --status 429 --header 'Retry-After: 2'
  hookplan sandbox configure-endpoint /webhook/flaky --status 200 --sequence 503x2
  hookplan sandbox configure-endpoint /webhook/every --status 200 --every 3:500")]
    ConfigureEndpoint(Box<ConfigureArgs>),

    /// Delete the recorded requests (and with --endpoints, the configured endpoints)
    #[command(after_help = "Example:\n  hookplan sandbox clear")]
    Clear(ClearArgs),
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// The port to listen on (0 = any free port)
    #[arg(long, default_value_t = sandbox_config::DEFAULT_PORT)]
    pub port: u16,

    /// The address to listen on; anything but loopback exposes the sandbox to the network
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub bind: IpAddr,

    /// The share of requests answered with the error status, 0 to 1
    #[arg(long, default_value_t = 0.0, value_name = "F", value_parser = parse_rate)]
    pub error_rate: f64,

    /// The status of injected errors
    #[arg(long, default_value_t = 503, value_name = "N", value_parser = clap::value_parser!(u16).range(100..=599))]
    pub error_status: u16,

    /// Delay every answer: seconds (1.5), a duration (500ms) or a range (100ms..2s)
    #[arg(long, value_name = "SECS", value_parser = parse_delay)]
    pub delay: Option<Delay>,

    /// Fixes the random choices (which requests fail, drawn delays)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed: u64,

    /// Real seconds slept per scheduled second of delay (0.01 = 100x faster)
    #[arg(long, default_value_t = 1.0, value_name = "F", value_parser = parse_scale)]
    pub time_scale: f64,

    /// Refuse bodies larger than this many bytes with 413
    #[arg(long, default_value_t = sandbox_config::DEFAULT_MAX_BODY_BYTES, value_name = "BYTES")]
    pub max_body_bytes: u64,

    /// Print only the banner, not each request
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub infisical: InfisicalArgs,
}

/// `--infisical` and its settings: the sandbox also emulates Infisical's API.
#[derive(Debug, clap::Args)]
pub struct InfisicalArgs {
    /// Also emulate Infisical's API under /api/v1/, /api/v3/ and /api/v4/ (its secrets are
    /// kept in the sandbox's folder and survive a restart)
    #[arg(long, help_heading = "Infisical emulation")]
    pub infisical: bool,

    /// The secrets API versions served: v3 (raw only, like older self-hosted servers), v4, or both
    #[arg(long, value_name = "API", default_value = "both", value_parser = parse_api, requires = "infisical", help_heading = "Infisical emulation")]
    pub infisical_api: InfisicalApi,

    /// The project id clients must name
    #[arg(long, value_name = "ID", default_value = infisical_config::DEFAULT_PROJECT, requires = "infisical", help_heading = "Infisical emulation")]
    pub infisical_project: String,

    /// The environment slug
    #[arg(long, value_name = "SLUG", default_value = infisical_config::DEFAULT_ENVIRONMENT, requires = "infisical", help_heading = "Infisical emulation")]
    pub infisical_environment: String,

    /// The machine identity's client id (universal auth)
    #[arg(long, value_name = "ID", default_value = infisical_config::DEFAULT_CLIENT_ID, requires = "infisical", help_heading = "Infisical emulation")]
    pub infisical_client_id: String,

    /// The machine identity's client secret (never shown; default demo-secret)
    #[arg(long, value_name = "S", default_value = infisical_config::DEFAULT_CLIENT_SECRET, hide_default_value = true, requires = "infisical", help_heading = "Infisical emulation")]
    pub infisical_client_secret: String,

    /// Writes answer {"approval": …} and are not applied (an approval policy)
    #[arg(long, requires = "infisical", help_heading = "Infisical emulation")]
    pub infisical_approvals: bool,

    /// Access token lifetime (and max lifetime unless --infisical-token-max-ttl), on the
    /// sandbox's clock: at --time-scale 0.01 a 2h token lasts 72 real seconds
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = parse_ttl, requires = "infisical", help_heading = "Infisical emulation")]
    pub infisical_token_ttl: Duration,

    /// How long a token may be renewed for in all (default: its TTL, so renewal fails)
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl, requires = "infisical", help_heading = "Infisical emulation")]
    pub infisical_token_max_ttl: Option<Duration>,

    /// The share, 0 to 1, of the faults drawn for writes (5xx, reset, close, hang) that strike
    /// after the write was applied: the answer is lost, the write is kept
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_rate, requires = "infisical", help_heading = "Infisical emulation")]
    pub infisical_faults_after_write: f64,
}

impl InfisicalArgs {
    /// The emulation's settings; its state is kept in the sandbox's own folder.
    fn config(&self, name: &str) -> Option<InfisicalConfig> {
        self.infisical.then(|| InfisicalConfig {
            project: self.infisical_project.clone(),
            environment: self.infisical_environment.clone(),
            client_id: self.infisical_client_id.clone(),
            client_secret: self.infisical_client_secret.clone(),
            api: self.infisical_api,
            approval_required: self.infisical_approvals,
            state: Some(name.to_string()),
            token_ttl: self.infisical_token_ttl,
            token_max_ttl: self
                .infisical_token_max_ttl
                .unwrap_or(self.infisical_token_ttl),
            faults_after_write: self.infisical_faults_after_write,
            seeds: Vec::new(),
        })
    }
}

fn parse_api(text: &str) -> Result<InfisicalApi, String> {
    InfisicalApi::parse(text)
        .ok_or_else(|| format!("use one of: {}", InfisicalApi::NAMES.join(", ")))
}

/// A token lifetime: a duration (`2h`, `90s`) of at least a second, counted in whole seconds.
fn parse_ttl(text: &str) -> Result<Duration, String> {
    let duration = crate::model::parse_duration(text.trim()).map_err(|e| e.to_string())?;
    if duration < Duration::from_secs(1) {
        return Err("a token lifetime is at least 1s".into());
    }
    Ok(Duration::from_secs(duration.as_secs()))
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print the full records as JSON (headers and bodies, credentials masked)
    #[arg(long)]
    pub json: bool,

    /// Every session, not just the latest
    #[arg(long)]
    pub all: bool,

    /// Only the last N requests
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Only paths matching this glob (e.g. '/webhook/*')
    #[arg(long, value_name = "GLOB")]
    pub path: Option<String>,

    /// Only this method
    #[arg(long, value_name = "M")]
    pub method: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The request id, e.g. POST_1707389523456
    pub id: String,

    /// Print the record as JSON (credentials masked)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The request id, e.g. POST_1707389523456
    pub id: String,

    /// Where to send it (default: the sandbox's last known address)
    #[arg(long)]
    pub url: Option<String>,

    /// Give up after this many seconds
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,
}

#[derive(Debug, clap::Args)]
pub struct ConfigureArgs {
    /// The path, exact (/webhook/payment) or a glob (/webhook/*)
    pub path: String,

    /// The status to answer with
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(100..=599))]
    pub status: u16,

    /// Answer with this file's content (JSON files are served as application/json)
    #[arg(long, value_name = "F")]
    pub file: Option<PathBuf>,

    /// Add a response header, "Name: value" (repeatable)
    #[arg(long, value_name = "K:V", value_parser = parse_header)]
    pub header: Vec<(String, String)>,

    /// Delay the answer: seconds (1.5), a duration (500ms) or a range (100ms..2s)
    #[arg(long, value_name = "SECS", value_parser = parse_delay)]
    pub delay: Option<Delay>,

    /// Only for this method (default: any)
    #[arg(long, value_name = "M")]
    pub method: Option<String>,

    /// A connection fault instead of the answer: reset, close, hang or slow-body
    #[arg(long, value_name = "FAULT", value_parser = parse_fault)]
    pub fault: Option<ConnectionFault>,

    /// The error rate for this endpoint, 0 to 1 (default: the sandbox's)
    #[arg(long, value_name = "F", value_parser = parse_rate)]
    pub error_rate: Option<f64>,

    /// Answer the first requests from a script: "503x2,200" = 503 twice, then 200 for the
    /// rest (before --status takes over, if every entry has a count). No error rate applies
    #[arg(long, value_name = "SCRIPT", value_parser = parse_sequence)]
    pub sequence: Option<Script>,

    /// Every n-th request gets another status: "3:500" = every third request gets 500
    #[arg(long, value_name = "N:STATUS", value_parser = parse_every)]
    pub every: Option<Every>,
}

#[derive(Debug, clap::Args)]
pub struct ClearArgs {
    /// Also remove the endpoints set with configure-endpoint
    #[arg(long)]
    pub endpoints: bool,
}

pub fn run(
    args: SandboxArgs,
    state_dir: &Path,
    logs: &super::logs::LogSetup,
) -> Result<ExitCode, CliError> {
    sandbox_config::validate_name(&args.name).map_err(CliError::usage)?;
    let dir = state::sandbox_dir(state_dir, &args.name);
    match args.command {
        SandboxCommand::Start(start_args) => start(start_args, &args.name, state_dir),
        SandboxCommand::ListRequests(list_args) => list(list_args, &dir, &args.name),
        SandboxCommand::Show(show_args) => show(show_args, &dir, &args.name),
        SandboxCommand::Replay(replay_args) => {
            replay_request(replay_args, &dir, &args.name, state_dir, logs)
        }
        SandboxCommand::ConfigureEndpoint(configure_args) => {
            configure(*configure_args, &dir, &args.name)
        }
        SandboxCommand::Clear(clear_args) => clear(clear_args, &dir, &args.name),
    }
}

// ------------------------------------------------------------------ start

fn start(args: StartArgs, name: &str, state_dir: &Path) -> Result<ExitCode, CliError> {
    let config = SandboxConfig {
        name: name.to_string(),
        bind: args.bind,
        port: args.port,
        seed: args.seed,
        error_rate: args.error_rate,
        error_status: args.error_status,
        delay: args.delay,
        max_body_bytes: args.max_body_bytes,
        infisical: args.infisical.config(name),
        ..SandboxConfig::default()
    };
    config.validate().map_err(CliError::usage)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start the async runtime", &e))?;
    let printer = (!args.quiet)
        .then(|| RequestPrinter::spawn(std::io::stdout(), printer::Settings::default()));
    let mut sandbox =
        Sandbox::new(config.clone(), state_dir).with_clock(Clock::new(args.time_scale));
    let infisical_state = sandbox.infisical_state();
    if let Some(printer) = &printer {
        sandbox = sandbox.with_observer(printer.observer());
    }
    let served = runtime.block_on(async {
        let stop = stop_signal();
        let started = sandbox::bind(sandbox)
            .await
            .map_err(|e| start_error(e, &config))?;
        // The banner lists the endpoints configured earlier too; they are served as well.
        let mut shown = config.clone();
        shown
            .endpoints
            .extend(endpoints::load(started.dir()).unwrap_or_default());
        let mut banner = console::banner(&shown, started.addr(), args.time_scale);
        if let Some(dir) = &infisical_state {
            // Before the last line ("Press Ctrl+C to stop").
            let at = banner.trim_end().rfind('\n').map_or(0, |i| i + 1);
            banner.insert_str(
                at,
                &format!(
                    "  Infisical state: {}\n",
                    dir.join(sandbox::infisical::STATE_FILE).display()
                ),
            );
        }
        print_now(&banner);
        started
            .serve(stop)
            .await
            .map_err(|e| CliError::failed(e.to_string()))
    });
    // Dropping the runtime drops the sandbox and its observer; the printer then shows what
    // is left in its backlog and ends.
    drop(runtime);
    if let Some(printer) = printer {
        // It printed the count of requests it did not show, if any.
        printer.finish();
    }
    served?;
    print_now("Sandbox stopped\n");
    Ok(ExitCode::Success)
}

fn start_error(error: sandbox::SandboxError, config: &SandboxConfig) -> CliError {
    if error.is_address_in_use() {
        let next = config
            .port
            .checked_add(1)
            .filter(|p| *p != 0)
            .unwrap_or(8889);
        return CliError::failed(format!(
            "port {} is already in use on {}; start on another with --port (e.g. --port {next}, or --port 0 for any free port)",
            config.port, config.bind
        ));
    }
    CliError::failed(error.to_string())
}

/// Ctrl-C or SIGTERM. The handlers are installed when this is called (before the banner
/// says the sandbox runs), not when the future is first polled.
fn stop_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).ok();
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    async move {
        let terminated = async {
            match terminate.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        let interrupted = async {
            match interrupt.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = terminated => {}
            _ = interrupted => {}
        }
    }
}

fn print_now(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

// ------------------------------------------------------------------ list, show

fn list(args: ListArgs, dir: &Path, name: &str) -> Result<ExitCode, CliError> {
    let pattern = match &args.path {
        Some(glob) => Some(glob::Pattern::new(glob).map_err(|e| {
            CliError::usage(format!("--path \"{glob}\" is not a valid glob: {}", e.msg))
        })?),
        None => None,
    };
    let selection = if args.all {
        Selection::All
    } else {
        Selection::LatestSession
    };
    let mut records =
        recording::read(dir, selection).map_err(|e| CliError::failed(e.to_string()))?;
    records.retain(|r| {
        pattern.as_ref().is_none_or(|p| p.matches(&r.path))
            && args
                .method
                .as_ref()
                .is_none_or(|m| r.method.eq_ignore_ascii_case(m))
    });
    if let Some(limit) = args.limit {
        let excess = records.len().saturating_sub(limit);
        records.drain(..excess);
    }
    if args.json {
        let shown: Vec<serde_json::Value> = records.iter().map(console::masked_json).collect();
        print_now(&format!(
            "{}\n",
            serde_json::to_string_pretty(&shown).unwrap_or_default()
        ));
        return Ok(ExitCode::Success);
    }
    if records.is_empty() {
        let which = if args.all {
            ""
        } else {
            " in its latest session"
        };
        let filtered = if args.path.is_some() || args.method.is_some() {
            " that match"
        } else {
            ""
        };
        print_now(&format!(
            "No recorded requests{filtered} (sandbox \"{name}\"{which}).\n"
        ));
        return Ok(ExitCode::Success);
    }
    print_now(&console::requests_table(&records));
    Ok(ExitCode::Success)
}

fn find(dir: &Path, name: &str, id: &str) -> Result<RecordedRequest, CliError> {
    match recording::find(dir, id).map_err(|e| CliError::failed(e.to_string()))? {
        Some(record) => Ok(record),
        None => Err(CliError::failed(format!(
            "no recorded request \"{id}\" in sandbox \"{name}\""
        ))
        .with_help("see the recorded ids with `hookplan sandbox list-requests --all`")),
    }
}

fn show(args: ShowArgs, dir: &Path, name: &str) -> Result<ExitCode, CliError> {
    let record = find(dir, name, &args.id)?;
    if args.json {
        print_now(&format!(
            "{}\n",
            serde_json::to_string_pretty(&console::masked_json(&record)).unwrap_or_default()
        ));
    } else {
        print_now(&console::details(&record));
    }
    Ok(ExitCode::Success)
}

// ------------------------------------------------------------------ replay

fn replay_request(
    args: ReplayArgs,
    dir: &Path,
    name: &str,
    state_dir: &Path,
    logs: &super::logs::LogSetup,
) -> Result<ExitCode, CliError> {
    use crate::model::{Action, Plan, ReplayAction, Span, Spanned, Step, Template};
    let record = find(dir, name, &args.id)?;
    let base = match &args.url {
        Some(url) => url.clone(),
        None => match state::read_status(dir) {
            Some(status) => status.url,
            None => {
                return Err(
                    CliError::usage(format!("sandbox \"{name}\" has no known address"))
                        .with_help("give one with --url http://HOST:PORT"),
                );
            }
        },
    };
    let target = replay::target(&record, &base).map_err(|e| CliError::usage(e.to_string()))?;
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(CliError::usage(
            "--timeout must be a positive number of seconds",
        ));
    }
    // One step: the same `replay` runner a plan uses, reading this sandbox's folder.
    let action = ReplayAction {
        sandbox: Spanned::new(name.to_string(), Span::default()),
        folder: Some(dir.to_path_buf()),
        path: None,
        index: -1,
        id: Some(args.id.clone()),
        to: Template::literal(&base, Span::default()),
    };
    let mut step = Step::new("replay", Action::new(action, Span::default()));
    step.attempt_timeout = Some(Duration::from_secs_f64(args.timeout));
    let plan = Plan::one_step("sandbox-replay", step, PathBuf::from("."));
    print_now(&format!(
        "Replaying {} {} to {}\n",
        record.id,
        record.method,
        replay::display_url(&target)
    ));
    let report = super::direct::run(
        plan,
        Default::default(),
        &super::direct::Direct {
            state_dir,
            time_scale: 1.0,
            logs,
        },
        super::direct::Silent,
    )?;
    let step = &report.steps[0];
    let Some(response) = &step.response else {
        let why = step.message.as_deref().unwrap_or("no response");
        let why = why.strip_prefix("no response: ").unwrap_or(why);
        return Err(CliError::failed(format!(
            "could not replay to {}: {why}",
            replay::display_url(&target)
        ))
        .with_help("check that the target is running, or give another with --url"));
    };
    let took = step.attempts.last().map_or(0.0, |a| a.duration_ms);
    let mut text = format!(
        "Response: {} ({} ms)\n",
        console::status_text(response.status),
        took.round() as u64
    );
    if let Some((_, id)) = response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-request-id"))
    {
        text.push_str(&format!("Request ID: {id}\n"));
    }
    let content_type = response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str());
    // The report's body was masked by the run's secrets; the recorded request's own
    // credentials are masked here too, as in every sandbox display.
    if let Some(body) = response.body.as_ref().and_then(|b| {
        console::body_text(b.text.as_bytes(), content_type, &console::masker(&record))
    }) {
        text.push_str(&format!("Body: {body}\n"));
    }
    print_now(&text);
    Ok(if (200..300).contains(&response.status) {
        ExitCode::Success
    } else {
        ExitCode::Failed
    })
}

// ------------------------------------------------------------------ configure, clear

fn configure(args: ConfigureArgs, dir: &Path, name: &str) -> Result<ExitCode, CliError> {
    if !args.path.starts_with('/') {
        return Err(CliError::usage(format!(
            "endpoint path \"{}\" does not start with `/`",
            args.path
        ))
        .with_help(format!("write it as \"/{}\"", args.path)));
    }
    let body = match &args.file {
        Some(file) => Some(BodyConfig::from_file(file).map_err(|e| {
            CliError::usage(e).with_help("nothing was changed; give a file that exists")
        })?),
        None => None,
    };
    let mut endpoint = EndpointConfig::new(args.path.clone());
    endpoint.method = args.method.as_ref().map(|m| m.to_ascii_uppercase());
    endpoint.error_rate = args.error_rate;
    endpoint.response.status = Some(args.status);
    endpoint.response.headers = args.header;
    endpoint.response.body = body;
    endpoint.response.delay = args.delay;
    endpoint.response.fault = args.fault;
    endpoint.sequence = args.sequence.map(|s| s.0).unwrap_or_default();
    endpoint.every = args.every;
    let summary = endpoint_summary(&endpoint, args.file.as_deref());
    endpoints::configure(dir, endpoint)
        .map_err(|e| CliError::failed(e).with_help("nothing was changed"))?;
    let running = state::read_status(dir).is_some_and(|s| process_alive(s.pid));
    let follow = if running {
        "; the running sandbox follows within a second"
    } else {
        ""
    };
    print_now(&format!(
        "Configured {summary} on sandbox \"{name}\"{follow}\n"
    ));
    Ok(ExitCode::Success)
}

fn endpoint_summary(endpoint: &EndpointConfig, file: Option<&Path>) -> String {
    let method = endpoint
        .method
        .as_deref()
        .map(|m| format!("{m} "))
        .unwrap_or_default();
    let mut text = format!(
        "{method}{} → {}",
        endpoint.path,
        console::status_text(endpoint.response.status.unwrap_or(200))
    );
    if let (Some(body), Some(file)) = (&endpoint.response.body, file) {
        text.push_str(&format!(
            ", body from {} ({})",
            file.display(),
            body.content_type
        ));
    }
    if !endpoint.response.headers.is_empty() {
        text.push_str(&format!(", {} header(s)", endpoint.response.headers.len()));
    }
    if let Some(delay) = endpoint.response.delay {
        text.push_str(&format!(", delay {}", console::delay_text(Some(delay))));
    }
    if let Some(fault) = endpoint.response.fault {
        text.push_str(&format!(", fault {}", fault.as_str()));
    }
    text
}

/// Whether a process still runs (the status file may be left by one that was killed).
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

fn clear(args: ClearArgs, dir: &Path, name: &str) -> Result<ExitCode, CliError> {
    let cleared = state::clear_recordings(dir)
        .map_err(|e| CliError::io(format!("cannot clear {}", dir.display()), &e))?;
    let mut text = format!(
        "Cleared {} recorded request(s) from sandbox \"{name}\"",
        cleared.requests
    );
    if args.endpoints {
        let removed = endpoints::remove_all(dir).map_err(CliError::failed)?;
        text.push_str(&format!(" and {removed} configured endpoint(s)"));
    }
    text.push('\n');
    print_now(&text);
    Ok(ExitCode::Success)
}

// ------------------------------------------------------------------ flag values

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("\"{text}\" is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{rate} is not between 0 and 1 (0.2 = 20%)"))
    }
}

fn parse_scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("\"{text}\" is not a number"))?;
    if scale.is_finite() && scale >= 0.0 {
        Ok(scale)
    } else {
        Err("use 0 or a positive number (1 = real time)".into())
    }
}

/// `1.5` (seconds), `500ms`, `2s`, or a range `100ms..2s`.
fn parse_delay(text: &str) -> Result<Delay, String> {
    let one = |part: &str| -> Result<Duration, String> {
        let part = part.trim();
        if let Ok(seconds) = part.parse::<f64>() {
            return Duration::try_from_secs_f64(seconds)
                .map_err(|_| format!("\"{part}\" is not a delay"));
        }
        crate::model::parse_duration(part)
            .map_err(|e| format!("\"{part}\": {e} (write 1.5, 500ms or 2s)"))
    };
    let delay = match text.split_once("..") {
        Some((low, high)) => Delay::range(one(low)?, one(high)?)?,
        None => Delay::fixed(one(text)?),
    };
    if delay.max > Duration::from_secs(86_400) {
        return Err("a delay must be at most 24h".into());
    }
    Ok(delay)
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("\"{text}\" is not \"Name: value\""))?;
    let (name, value) = (name.trim(), value.trim());
    hyper::header::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("\"{name}\" is not a valid header name"))?;
    hyper::header::HeaderValue::from_str(value)
        .map_err(|_| format!("the value of \"{name}\" has characters a header cannot hold"))?;
    Ok((name.to_string(), value.to_string()))
}

/// A `--sequence` value.
#[derive(Debug, Clone)]
pub struct Script(Vec<SequenceEntry>);

/// `503x2,200`: statuses, each answering `xN` requests (the last without a count answers the rest).
fn parse_sequence(text: &str) -> Result<Script, String> {
    let mut entries = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (status, times) = match part.split_once(['x', '*']) {
            Some((status, times)) => (
                status,
                Some(
                    times
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|t| *t >= 1)
                        .ok_or_else(|| {
                            format!("\"{part}\": the count after x must be 1 or more")
                        })?,
                ),
            ),
            None => (part, None),
        };
        let status = parse_status(status)?;
        if entries
            .last()
            .is_some_and(|e: &SequenceEntry| e.times.is_none())
        {
            return Err(format!(
                "\"{part}\" is never reached: the entry before it has no count and answers every remaining request"
            ));
        }
        entries.push(SequenceEntry {
            times,
            response: ResponseConfig {
                status: Some(status),
                ..Default::default()
            },
        });
    }
    Ok(Script(entries))
}

/// `3:500`: every third request gets 500.
fn parse_every(text: &str) -> Result<Every, String> {
    let (n, status) = text
        .split_once(':')
        .ok_or_else(|| format!("\"{text}\" is not N:STATUS (e.g. 3:500)"))?;
    let n: u32 = n
        .trim()
        .parse()
        .ok()
        .filter(|n| *n >= 2)
        .ok_or_else(|| format!("\"{n}\": N must be 2 or more"))?;
    Ok(Every {
        n,
        response: ResponseConfig {
            status: Some(parse_status(status)?),
            ..Default::default()
        },
    })
}

fn parse_status(text: &str) -> Result<u16, String> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|s| (100..=599).contains(s))
        .ok_or_else(|| format!("\"{}\" is not an HTTP status (100–599)", text.trim()))
}

fn parse_fault(text: &str) -> Result<ConnectionFault, String> {
    ConnectionFault::parse(text)
        .ok_or_else(|| format!("\"{text}\" is not a fault: use reset, close, hang or slow-body"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_seconds_durations_or_ranges() {
        assert_eq!(
            parse_delay("1.5").unwrap(),
            Delay::fixed(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_delay("500ms").unwrap(),
            Delay::fixed(Duration::from_millis(500))
        );
        assert_eq!(
            parse_delay("100ms..2s").unwrap(),
            Delay::range(Duration::from_millis(100), Duration::from_secs(2)).unwrap()
        );
        assert!(parse_delay("2s..1s").is_err());
        assert!(parse_delay("-1").is_err());
        assert!(parse_delay("soon").is_err());
    }

    #[test]
    fn sequences_and_every_nth_are_parsed() {
        let sequence = parse_sequence("503x2, 200").unwrap().0;
        assert_eq!(
            sequence
                .iter()
                .map(|e| (e.times, e.response.status))
                .collect::<Vec<_>>(),
            vec![(Some(2), Some(503)), (None, Some(200))]
        );
        assert!(
            parse_sequence("200,503")
                .unwrap_err()
                .contains("never reached")
        );
        assert!(parse_sequence("503x0").is_err());
        assert!(parse_sequence("abc").is_err());
        assert_eq!(parse_every("3:500").unwrap().n, 3);
        assert!(parse_every("1:500").is_err());
        assert!(parse_every("3").is_err());
    }

    #[test]
    fn every_flag_parses_into_its_field() {
        use clap::{CommandFactory, Parser};
        crate::cli::Cli::command().debug_assert();
        let lines: &[&[&str]] = &[
            &[
                "sandbox",
                "start",
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--error-rate",
                "0.2",
                "--error-status",
                "502",
                "--delay",
                "1..2",
                "--seed",
                "4",
                "--time-scale",
                "0.5",
                "--max-body-bytes",
                "10",
                "--quiet",
                "--name",
                "n",
            ],
            &[
                "sandbox",
                "list-requests",
                "--json",
                "--all",
                "--limit",
                "3",
                "--path",
                "/a/*",
                "--method",
                "GET",
            ],
            &["sandbox", "show", "POST_1", "--json"],
            &[
                "sandbox",
                "replay",
                "POST_1",
                "--url",
                "http://127.0.0.1:1",
                "--timeout",
                "3",
            ],
            &[
                "sandbox",
                "configure-endpoint",
                "/p",
                "--status",
                "201",
                "--file",
                "f.json",
                "--header",
                "A: b",
                "--header",
                "C: d",
                "--delay",
                "1",
                "--method",
                "post",
                "--fault",
                "reset",
                "--error-rate",
                "0.1",
                "--sequence",
                "503x2,200",
                "--every",
                "3:500",
            ],
            &["sandbox", "clear", "--endpoints"],
        ];
        for line in lines {
            let args = std::iter::once("hookplan").chain(line.iter().copied());
            crate::cli::Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        }
    }

    #[test]
    fn headers_and_rates_are_checked() {
        assert_eq!(
            parse_header("Retry-After: 2").unwrap(),
            ("Retry-After".into(), "2".into())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_rate("1.5").is_err());
        assert_eq!(parse_rate("0.2").unwrap(), 0.2);
    }
}
