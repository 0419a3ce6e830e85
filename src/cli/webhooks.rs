//! `hookplan webhooks list|show|add|set-url|remove`: the registry managed by hand, the same
//! one `call` reads (the project config's `database`, else `DATABASE_URL`, else the embedded
//! file), own table or legacy mapping alike.
//!
//! `list` and `show` create nothing. The writes check their arguments, and that the webhook
//! exists, before they connect for writing, so that a mistake creates nothing either.
//! Credentials come from the environment or standard input, and are shown masked.

mod credentials;
mod shown;

use super::registry::{self, Chosen};
use super::{CliError, ErrorKind, ExitCode};
use crate::observe::Redactor;
use crate::plan::ProjectConfig;
use crate::registry::{Auth, Direction, Field, Method, Registry, RegistryError, Webhook};
use clap::Subcommand;
use shown::Place;
use std::io::Write;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct WebhooksArgs {
    #[command(subcommand)]
    pub command: WebhooksCommand,

    /// The project config's `database` to use [default: its first, else DATABASE_URL, else
    /// the embedded registry <state-dir>/registry.db]
    #[arg(long, global = true, value_name = "NAME")]
    pub database: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// List the webhooks, ordered by code (credentials masked)
    #[command(after_help = "Examples:
  hookplan webhooks list
  hookplan webhooks list --json | jq '.[] | select(.credentials.key.set) | .code'
  hookplan webhooks list --database legacy")]
    List(ListArgs),

    /// Show every field of one webhook and where each credential lives
    #[command(after_help = "Example:\n  hookplan webhooks show STRIPE_PAYMENT")]
    Show(ShowArgs),

    /// Add a webhook; credentials come from environment variables or standard input
    #[command(after_help = "Examples:
  hookplan webhooks add STRIPE_PAYMENT --url https://api.stripe.com/v1/charges --key-env STRIPE_KEY
  hookplan webhooks add ERP_SYNC --url https://erp.example.com/hook --method PUT \\
      --user-env ERP_USER --password-env ERP_PASSWORD
  printf 'key=%s\\n' \"$KEY\" | hookplan webhooks add PARTNER --url https://p.example.com --auth header --stdin

Credentials are never taken from the command line (it stays in the shell's history and shows
in process listings). Without --auth: basic when a user and a password are given, else bearer
when a key is, else none.")]
    Add(AddArgs),

    /// Point a webhook at another URL
    #[command(
        after_help = "Example:\n  hookplan webhooks set-url STRIPE_PAYMENT http://127.0.0.1:8888/webhook/stripe"
    )]
    SetUrl(SetUrlArgs),

    /// Remove a webhook
    #[command(after_help = "Example:\n  hookplan webhooks remove STRIPE_PAYMENT")]
    Remove(RemoveArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print a JSON array (credentials masked; `set` says which are)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The webhook's code, e.g. STRIPE_PAYMENT
    pub code: String,

    /// Print it as JSON (credentials masked, with where each lives)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The webhook's code, e.g. STRIPE_PAYMENT
    pub code: String,

    /// Where it is called: an http(s) URL
    #[arg(long, value_name = "URL")]
    pub url: String,

    /// POST, GET or PUT [default: POST]
    #[arg(long, value_name = "METHOD", value_parser = parse_method)]
    pub method: Option<Method>,

    /// IN or OUT [default: OUT]
    #[arg(long, value_name = "DIR", value_parser = parse_direction)]
    pub direction: Option<Direction>,

    /// none, basic, bearer or header [default: derived from the credentials]
    #[arg(long, value_name = "AUTH", value_parser = parse_auth)]
    pub auth: Option<Auth>,

    /// The environment variable holding the user
    #[arg(long, value_name = "VAR")]
    pub user_env: Option<String>,

    /// The environment variable holding the API key
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,

    /// The environment variable holding the password
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,

    /// The environment variable holding the signing secret
    #[arg(long, value_name = "VAR")]
    pub signing_secret_env: Option<String>,

    /// Read credentials from standard input, one a line: user=…, key=…, password=…,
    /// signing-secret=…
    #[arg(long)]
    pub stdin: bool,

    /// Store it disabled (a call refuses it until it is enabled)
    #[arg(long)]
    pub disabled: bool,

    /// Refused: credentials never come from the command line
    #[arg(long, hide = true, value_name = "VALUE", num_args = 0..=1, allow_hyphen_values = true)]
    pub key: Option<Option<String>>,

    /// Refused, like --key
    #[arg(long, hide = true, value_name = "VALUE", num_args = 0..=1, allow_hyphen_values = true)]
    pub password: Option<Option<String>>,

    /// Refused, like --key
    #[arg(long, hide = true, value_name = "VALUE", num_args = 0..=1, allow_hyphen_values = true)]
    pub user: Option<Option<String>>,

    /// Refused, like --key
    #[arg(long, hide = true, value_name = "VALUE", num_args = 0..=1, allow_hyphen_values = true)]
    pub signing_secret: Option<Option<String>>,
}

#[derive(Debug, clap::Args)]
pub struct SetUrlArgs {
    /// The webhook's code
    pub code: String,

    /// The new http(s) URL
    pub url: String,
}

#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The webhook's code
    pub code: String,
}

fn parse_method(text: &str) -> Result<Method, String> {
    Method::parse(text).ok_or_else(|| format!("expected one of {}", Method::NAMES.join(", ")))
}

fn parse_direction(text: &str) -> Result<Direction, String> {
    Direction::parse(text).ok_or_else(|| format!("expected {}", Direction::NAMES.join(" or ")))
}

fn parse_auth(text: &str) -> Result<Auth, String> {
    Auth::parse(text).ok_or_else(|| format!("expected one of {}", Auth::NAMES.join(", ")))
}

pub fn run(
    args: WebhooksArgs,
    config: &ProjectConfig,
    state_dir: &Path,
) -> Result<ExitCode, CliError> {
    let chosen = registry::choose(config, args.database.as_deref(), state_dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start the async runtime", &e))?;
    let mut secrets = url_secrets(&chosen);
    let result = runtime.block_on(async {
        match args.command {
            WebhooksCommand::List(list_args) => list(list_args, &chosen).await,
            WebhooksCommand::Show(show_args) => show(show_args, &chosen).await,
            WebhooksCommand::Add(add_args) => add(add_args, &chosen, &mut secrets).await,
            WebhooksCommand::SetUrl(set_args) => set_url(set_args, &chosen).await,
            WebhooksCommand::Remove(remove_args) => remove(remove_args, &chosen).await,
        }
    });
    result.map_err(|error| masked(error, &secrets))
}

/// What the registry's URL holds that is secret: its password (as written and decoded) and
/// whatever `${secret.…}` it read.
fn url_secrets(chosen: &Chosen) -> Redactor {
    let mut secrets = Redactor::new(&chosen.secrets);
    if let Some(password) = crate::registry::url_password(&chosen.config.url) {
        secrets.add(password);
        if let Ok(decoded) = percent_encoding::percent_decode_str(password).decode_utf8() {
            secrets.add(&decoded);
        }
    }
    secrets
}

/// An error with every known secret masked: the registry masks its URL's password, but a
/// driver's text may still quote a value in another form.
fn masked(mut error: CliError, secrets: &Redactor) -> CliError {
    if let ErrorKind::Message { message, help } = &mut error.kind {
        *message = secrets.redact(message).into_owned();
        if let Some(help) = help {
            *help = secrets.redact(help).into_owned();
        }
    }
    error
}

fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn place(registry: &Registry) -> Place<'_> {
    Place {
        config: registry.config(),
        url: registry.masked_url(),
    }
}

// ------------------------------------------------------------------ list, show

async fn list(args: ListArgs, chosen: &Chosen) -> Result<ExitCode, CliError> {
    let registry = registry::open(chosen).await?;
    let webhooks = registry.list().await.map_err(registry::registry_error)?;
    if args.json {
        let entries: Vec<serde_json::Value> =
            webhooks.iter().map(|w| shown::json(w, None)).collect();
        out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&entries).unwrap_or_default()
        ));
    } else if webhooks.is_empty() {
        out(&format!(
            "No webhooks in {}.\nAdd one with: hookplan webhooks add CODE --url https://… [--key-env VAR]\n",
            place(&registry).describe()
        ));
    } else {
        out(&shown::table(&webhooks));
    }
    Ok(ExitCode::Success)
}

async fn show(args: ShowArgs, chosen: &Chosen) -> Result<ExitCode, CliError> {
    let registry = registry::open(chosen).await?;
    let webhook = existing(&registry, &args.code).await?;
    let locations = registry
        .credential_locations(&webhook.code)
        .await
        .map_err(registry::registry_error)?;
    if args.json {
        let mut value = shown::json(&webhook, Some(&locations));
        value["database"] = serde_json::json!(registry.config().name);
        out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ));
    } else {
        out(&shown::details(&webhook, &place(&registry), &locations));
    }
    Ok(ExitCode::Success)
}

/// The webhook of this code, or "no webhook" with the nearest code when one is near.
async fn existing(registry: &Registry, code: &str) -> Result<Webhook, CliError> {
    if let Some(webhook) = registry.get(code).await.map_err(registry::registry_error)? {
        return Ok(webhook);
    }
    let codes: Vec<String> = registry
        .list()
        .await
        .map_err(registry::registry_error)?
        .into_iter()
        .map(|w| w.code)
        .collect();
    let near = crate::model::suggest::did_you_mean(code, codes.iter().map(String::as_str));
    let error = registry::registry_error(RegistryError::NotFound {
        db: registry.config().name.clone(),
        code: code.to_string(),
    });
    Err(match near {
        Some(near) => with_message(error, |m| format!("{m}; did you mean \"{near}\"?")),
        None => error,
    })
}

fn with_message(mut error: CliError, change: impl FnOnce(&str) -> String) -> CliError {
    if let ErrorKind::Message { message, .. } = &mut error.kind {
        *message = change(message);
    }
    error
}

// ------------------------------------------------------------------ add

async fn add(args: AddArgs, chosen: &Chosen, secrets: &mut Redactor) -> Result<ExitCode, CliError> {
    refuse_inline_credentials(&args)?;
    check_code(&args.code)?;
    check_url("--url", &args.url)?;
    let env = [
        (Field::User, args.user_env.as_deref()),
        (Field::Key, args.key_env.as_deref()),
        (Field::Password, args.password_env.as_deref()),
        (Field::SigningSecret, args.signing_secret_env.as_deref()),
    ];
    let mut stdin = std::io::stdin().lock();
    let mut credentials = credentials::read(
        &env,
        args.stdin.then_some(&mut stdin as &mut dyn std::io::Read),
    )?;
    for value in credentials.values() {
        secrets.add(value);
    }
    let derived = crate::registry::derive_auth(
        credentials.get(Field::User),
        credentials.get(Field::Key),
        credentials.get(Field::Password),
    );
    let auth = args.auth.unwrap_or(derived);
    check_auth(auth, &credentials)?;

    let registry = registry::open(chosen).await?;
    let place = place(&registry);
    let mut webhook = Webhook::new(&args.code, &args.url);
    // The own table's defaults, written out for a legacy table that has the column, so that
    // the spec's tools reading it see them too.
    webhook.method = args
        .method
        .or_else(|| place.mapped(Field::Method).then_some(Method::Post));
    webhook.direction = args
        .direction
        .or_else(|| place.mapped(Field::Direction).then_some(Direction::Out));
    webhook.auth = auth;
    webhook.user = credentials.take(Field::User);
    webhook.key = credentials.take(Field::Key);
    webhook.password = credentials.take(Field::Password);
    webhook.signing_secret = credentials.take(Field::SigningSecret);
    if args.disabled {
        webhook.enabled = Some(false);
    }
    check_mapped(&webhook, &place, derived)?;
    registry
        .add(&webhook)
        .await
        .map_err(registry::registry_error)?;
    out(&format!(
        "Added {} to {}: {}\n",
        webhook.code,
        place.describe(),
        shown::summary(&webhook)
    ));
    Ok(ExitCode::Success)
}

/// `--key VALUE` and the like exist only to say why they are refused, without the value.
fn refuse_inline_credentials(args: &AddArgs) -> Result<(), CliError> {
    let given = [
        (Field::Key, &args.key),
        (Field::Password, &args.password),
        (Field::User, &args.user),
        (Field::SigningSecret, &args.signing_secret),
    ];
    if let Some((field, _)) = given.iter().find(|(_, v)| v.is_some()) {
        let flag = credentials::env_flag(*field);
        return Err(CliError::usage(format!(
            "--{} is refused: credentials are never taken from the command line (they would stay in the shell's history and show in process listings)",
            field.name()
        ))
        .with_help(format!(
            "put the {} in an environment variable and pass its name ({flag} VAR), or give {}=… on standard input with --stdin",
            field.name(),
            field.name()
        )));
    }
    Ok(())
}

fn check_code(code: &str) -> Result<(), CliError> {
    if code.is_empty() || code.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(
            CliError::usage("a webhook's code must be a non-empty word without blanks")
                .with_help("e.g. STRIPE_PAYMENT"),
        );
    }
    Ok(())
}

/// An http(s) URL with a host; shown masked when it is not one.
fn check_url(what: &str, text: &str) -> Result<(), CliError> {
    let shown = shown::url(text, &Redactor::default());
    let help = "give an http(s) URL, e.g. https://api.example.com/webhook";
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(u) => Err(CliError::usage(format!(
            "{what}: \"{shown}\" is not an http(s) URL (its scheme is {})",
            u.scheme()
        ))
        .with_help(help)),
        Err(e) => {
            Err(CliError::usage(format!("{what}: \"{shown}\" is not a URL: {e}")).with_help(help))
        }
    }
}

/// What an explicit `--auth` needs to send anything.
fn check_auth(auth: Auth, credentials: &credentials::Credentials) -> Result<(), CliError> {
    let has = |field| credentials.get(field).is_some();
    let missing = match auth {
        Auth::Basic if !has(Field::User) || !(has(Field::Password) || has(Field::Key)) => {
            "a user and a password (or a key): --user-env and --password-env, or user= and password= on --stdin"
        }
        Auth::Bearer | Auth::Header if !has(Field::Key) => "a key: --key-env, or key= on --stdin",
        _ => return Ok(()),
    };
    Err(CliError::usage(format!("--auth {auth} needs {missing}")))
}

/// Every field to store needs a column; a legacy table without an auth column keeps the auth
/// its credentials imply.
fn check_mapped(webhook: &Webhook, place: &Place<'_>, derived: Auth) -> Result<(), CliError> {
    let mut set = vec![Field::Code, Field::Url];
    set.extend(webhook.method.map(|_| Field::Method));
    set.extend(webhook.direction.map(|_| Field::Direction));
    set.extend(webhook.enabled.map(|_| Field::Enabled));
    set.extend(
        shown::credentials(webhook)
            .into_iter()
            .filter_map(|(field, value)| value.map(|_| field)),
    );
    if webhook.auth != derived {
        set.push(Field::Auth);
    }
    match set.into_iter().find(|field| !place.mapped(*field)) {
        Some(field) => {
            let error = RegistryError::Unmapped {
                db: place.config.name.clone(),
                field: field.name().to_string(),
            };
            let help = error.help();
            let e = CliError::usage(error.to_string());
            Err(match help {
                Some(help) => e.with_help(help),
                None => e,
            })
        }
        None => Ok(()),
    }
}

// ------------------------------------------------------------------ set-url, remove

async fn set_url(args: SetUrlArgs, chosen: &Chosen) -> Result<ExitCode, CliError> {
    check_url("the new URL", &args.url)?;
    let registry = registry::open(chosen).await?;
    let webhook = existing(&registry, &args.code).await?;
    registry
        .set_url(&webhook.code, &args.url)
        .await
        .map_err(registry::registry_error)?;
    let secrets = shown::redactor(&webhook);
    let old = webhook
        .url
        .as_deref()
        .map_or_else(|| "(none)".to_string(), |u| shown::url(u, &secrets));
    out(&format!(
        "{} in {}: {old} → {}\n",
        webhook.code,
        place(&registry).describe(),
        shown::url(&args.url, &secrets)
    ));
    Ok(ExitCode::Success)
}

async fn remove(args: RemoveArgs, chosen: &Chosen) -> Result<ExitCode, CliError> {
    let registry = registry::open(chosen).await?;
    let webhook = existing(&registry, &args.code).await?;
    let locations = registry
        .credential_locations(&webhook.code)
        .await
        .map_err(registry::registry_error)?;
    registry
        .remove(&webhook.code)
        .await
        .map_err(registry::registry_error)?;
    let mut text = format!(
        "Removed {} from {}: {}\n",
        webhook.code,
        place(&registry).describe(),
        shown::summary(&webhook)
    );
    for (field, location) in locations.iter().filter(|(_, l)| l != "db") {
        text.push_str(&format!(
            "Its {} lives in {location}; that copy is left as it is.\n",
            field.name()
        ));
    }
    out(&text);
    Ok(ExitCode::Success)
}
