//! What a step runner gets: the clock, keyed randomness, the HTTP client, values, captures,
//! running sandboxes, cancellation, and the event stream. No globals.

use super::event::{EventKind, RunEvent};
use super::sink::Stage;
use super::values::Values;
use crate::clock::{Clock, Timeline};
use crate::model::{Plan, Reference, Template};
use crate::observe::{MASK, Redactor};
use crate::random::KeyedRandom;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// Where a running sandbox can be reached.
#[derive(Debug, Clone)]
pub struct SandboxAddress {
    pub url: String,
    pub host: String,
    pub port: u16,
}

pub struct RunContext {
    pub plan: Arc<Plan>,
    pub clock: Clock,
    pub random: KeyedRandom,
    pub http: reqwest::Client,
    pub values: Values,
    /// Every secret of the run; grows when a step captures a value marked secret.
    redactor: Arc<RwLock<Redactor>>,
    /// Set when the run is interrupted or cancelled (fail-fast, run timeout).
    pub cancel: CancellationToken,
    pub dry_run: bool,
    /// This run's folder in the state directory.
    pub run_dir: PathBuf,
    /// The state directory (the embedded registry lives there).
    pub state_dir: PathBuf,
    pub events: Events,
    /// What only this run and its sandboxes share: its secrets, its key for delay reports.
    pub link: crate::run_link::RunLink,
    /// Circuit breakers per target, shared by every step of the run.
    pub breakers: crate::retry::Breakers,
    /// The alerts raised so far (`expect-alerts` reads them; the alert evaluator writes).
    pub alerts: crate::alerting::AlertRecord,
    captures: Mutex<HashMap<String, HashMap<String, String>>>,
    sandboxes: RwLock<HashMap<String, SandboxAddress>>,
}

impl RunContext {
    /// A context for running `plan` with `values`: real time, no network client settings, no
    /// folder, events dropped — each part set on the builder.
    pub fn builder(plan: Arc<Plan>, values: Values) -> RunContextBuilder {
        RunContextBuilder {
            plan,
            values,
            clock: Clock::default(),
            http: None,
            cancel: CancellationToken::new(),
            dry_run: false,
            run_dir: PathBuf::from("."),
            state_dir: PathBuf::from(".hookplan"),
            events: None,
            alerts: crate::alerting::AlertRecord::default(),
        }
    }

    /// Text with every secret of the run masked.
    pub fn redact(&self, text: &str) -> String {
        self.redactor
            .read()
            .expect("redactor lock")
            .redact(text)
            .into_owned()
    }

    /// A body with every secret of the run masked (inside JSON string values, else as text).
    pub fn redact_body(&self, body: &[u8]) -> Vec<u8> {
        self.redactor
            .read()
            .expect("redactor lock")
            .redact_body(body)
            .into_owned()
    }

    /// A value that must be masked from now on (a captured token).
    pub fn add_secret(&self, value: &str) {
        self.redactor.write().expect("redactor lock").add(value);
    }

    /// Adds values to the run's secrets from anywhere, later (a store's fresh access token).
    pub fn secret_sink(&self) -> Arc<dyn Fn(&str) + Send + Sync> {
        let redactor = self.redactor.clone();
        Arc::new(move |value: &str| redactor.write().expect("redactor lock").add(value))
    }

    pub fn redactor(&self) -> Redactor {
        self.redactor.read().expect("redactor lock").clone()
    }

    pub fn set_captures(&self, step: &str, values: HashMap<String, String>) {
        self.captures
            .lock()
            .expect("captures lock")
            .insert(step.to_string(), values);
    }

    pub fn set_sandbox(&self, name: &str, address: SandboxAddress) {
        self.sandboxes
            .write()
            .expect("sandboxes lock")
            .insert(name.to_string(), address);
    }

    /// Renders a template with every value known at this point of the run.
    pub fn render(&self, template: &Template) -> Result<String, String> {
        template
            .render(|reference, _| self.lookup(reference))
            .map_err(|missing| format!("cannot resolve {}", missing.join(", ")))
    }

    /// Renders a template as it may be shown: whatever a secret (or a variable holding one, or a
    /// value captured as secret) fills in is masked, and nothing else is touched.
    pub fn render_shown(&self, template: &Template) -> Result<String, String> {
        template
            .render(|reference, _| self.lookup_shown(reference))
            .map_err(|missing| format!("cannot resolve {}", missing.join(", ")))
    }

    /// One reference's value as it may be shown.
    pub fn lookup_shown(&self, reference: &Reference) -> Result<String, String> {
        match reference {
            Reference::Secret { .. } => Ok(MASK.to_string()),
            Reference::Var { name } => self
                .values
                .shown
                .get(name)
                .or_else(|| self.values.vars.get(name))
                .cloned()
                .ok_or_else(|| reference.to_string()),
            Reference::Step { step, key } => {
                let secret = self
                    .plan
                    .step(step)
                    .is_some_and(|s| s.captures.iter().any(|c| c.name.value == *key && c.secret));
                if secret {
                    Ok(MASK.to_string())
                } else {
                    self.lookup(reference)
                }
            }
            _ => self.lookup(reference),
        }
    }

    /// One reference's value.
    pub fn lookup(&self, reference: &Reference) -> Result<String, String> {
        let found = match reference {
            Reference::Env { name, .. } => self.values.env.get(name).cloned(),
            Reference::Secret { name, .. } => self.values.secrets.get(name).cloned(),
            Reference::Var { name } => self.values.vars.get(name).cloned(),
            Reference::Sandbox { name, field } => {
                let sandboxes = self.sandboxes.read().expect("sandboxes lock");
                sandboxes.get(name).map(|s| match field.as_str() {
                    "host" => s.host.clone(),
                    "port" => s.port.to_string(),
                    _ => s.url.clone(),
                })
            }
            Reference::Step { step, key } => {
                let captures = self.captures.lock().expect("captures lock");
                captures.get(step).and_then(|c| c.get(key)).cloned()
            }
        };
        found.ok_or_else(|| reference.to_string())
    }
}

/// Sends events, stamping each with wall-clock time and the sender's virtual time. Lossless
/// stages (the alert evaluator) see each event as it is sent and may add derived events right
/// behind it, so they are in the stream before anything that follows the event can start.
#[derive(Clone)]
pub struct Events {
    sender: Option<UnboundedSender<RunEvent>>,
    clock: Clock,
    stages: Option<SharedStages>,
}

type SharedStages = Arc<Mutex<Vec<Box<dyn Stage>>>>;

impl Events {
    pub fn new(sender: UnboundedSender<RunEvent>, clock: Clock) -> Self {
        Self {
            sender: Some(sender),
            clock,
            stages: None,
        }
    }

    /// Events that go nowhere (a context built for a test or a benchmark).
    pub fn discard(clock: Clock) -> Self {
        Self {
            sender: None,
            clock,
            stages: None,
        }
    }

    /// Adds lossless stages that see every event and may emit derived ones.
    pub fn with_stages(mut self, stages: Vec<Box<dyn Stage>>) -> Self {
        if !stages.is_empty() {
            self.stages = Some(Arc::new(Mutex::new(stages)));
        }
        self
    }

    /// Emits an event at a point of virtual time.
    pub fn emit_at(&self, elapsed: std::time::Duration, kind: EventKind) {
        let Some(sender) = &self.sender else { return };
        let event = RunEvent {
            at: self.clock.wall_now(),
            elapsed,
            kind,
        };
        match &self.stages {
            None => {
                // The receiver lives as long as the run; a send can only fail after it ended.
                let _ = sender.send(event);
            }
            Some(stages) => {
                // Held while sending, so that derived events follow their source in order.
                let mut stages = stages.lock().unwrap_or_else(|e| e.into_inner());
                let mut derived = Vec::new();
                for stage in stages.iter_mut() {
                    derived.extend(stage.observe(&event));
                }
                let at = event.at;
                let _ = sender.send(event);
                for kind in derived {
                    let _ = sender.send(RunEvent { at, elapsed, kind });
                }
            }
        }
    }

    pub fn emit(&self, timeline: &Timeline, kind: EventKind) {
        self.emit_at(timeline.now(), kind);
    }
}

/// Sets up a [`RunContext`] part by part.
pub struct RunContextBuilder {
    plan: Arc<Plan>,
    values: Values,
    clock: Clock,
    http: Option<reqwest::Client>,
    cancel: CancellationToken,
    dry_run: bool,
    run_dir: PathBuf,
    state_dir: PathBuf,
    events: Option<Events>,
    alerts: crate::alerting::AlertRecord,
}

impl RunContextBuilder {
    /// Where the run's alert evaluator records what it raised.
    pub fn alerts(mut self, alerts: crate::alerting::AlertRecord) -> Self {
        self.alerts = alerts;
        self
    }

    /// The run's clock (its time scale); real time by default.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The HTTP client every step shares; hookplan's default client otherwise.
    pub fn http(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Cancelled when the run is interrupted.
    pub fn cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// This run's folder in the state directory (sandbox recordings go there).
    pub fn run_dir(mut self, run_dir: PathBuf) -> Self {
        self.run_dir = run_dir;
        self
    }

    /// The state directory (`.hookplan` by default).
    pub fn state_dir(mut self, state_dir: PathBuf) -> Self {
        self.state_dir = state_dir;
        self
    }

    /// Where events go; without it they are dropped.
    pub fn events(mut self, events: Events) -> Self {
        self.events = Some(events);
        self
    }

    pub fn build(self) -> Result<RunContext, String> {
        let redactor = Arc::new(RwLock::new(self.values.redactor()));
        let events = self
            .events
            .unwrap_or_else(|| Events::discard(self.clock.clone()));
        let http = match self.http {
            Some(http) => http,
            None => crate::http_client::builder()
                .build()
                .map_err(|e| format!("cannot set up the HTTP client: {e}"))?,
        };
        let link = crate::run_link::RunLink::new(redactor.clone())?;
        Ok(RunContext {
            link,
            random: KeyedRandom::new(self.plan.seed),
            plan: self.plan,
            clock: self.clock,
            http,
            values: self.values,
            redactor,
            cancel: self.cancel,
            dry_run: self.dry_run,
            run_dir: self.run_dir,
            state_dir: self.state_dir,
            events,
            breakers: crate::retry::Breakers::new(),
            alerts: self.alerts,
            captures: Mutex::new(HashMap::new()),
            sandboxes: RwLock::new(HashMap::new()),
        })
    }
}
