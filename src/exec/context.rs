//! What a step runner gets: the clock, keyed randomness, the HTTP client, values, captures,
//! running sandboxes, cancellation, and the event stream. No globals.

use super::event::{EventKind, RunEvent};
use super::values::Values;
use crate::clock::{Clock, Timeline};
use crate::model::{Plan, Reference, Template};
use crate::observe::Redactor;
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
    pub events: Events,
    /// Circuit breakers per target, shared by every step of the run.
    pub breakers: crate::retry::Breakers,
    captures: Mutex<HashMap<String, HashMap<String, String>>>,
    sandboxes: RwLock<HashMap<String, SandboxAddress>>,
}

impl RunContext {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: Arc<Plan>,
        clock: Clock,
        http: reqwest::Client,
        values: Values,
        cancel: CancellationToken,
        dry_run: bool,
        run_dir: PathBuf,
        events: Events,
    ) -> Self {
        let redactor = Arc::new(RwLock::new(values.redactor()));
        Self {
            random: KeyedRandom::new(plan.seed),
            plan,
            clock,
            http,
            values,
            redactor,
            cancel,
            dry_run,
            run_dir,
            events,
            breakers: crate::retry::Breakers::new(),
            captures: Mutex::new(HashMap::new()),
            sandboxes: RwLock::new(HashMap::new()),
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

    pub fn redact_json(&self, value: &mut serde_json::Value) {
        self.redactor
            .read()
            .expect("redactor lock")
            .redact_json(value);
    }

    /// A value that must be masked from now on (a captured token).
    pub fn add_secret(&self, value: &str) {
        self.redactor.write().expect("redactor lock").add(value);
    }

    pub fn redactor(&self) -> Redactor {
        self.redactor.read().expect("redactor lock").clone()
    }

    /// The redactor itself, for sinks that outlive a step (it grows as secrets are captured).
    pub fn shared_redactor(&self) -> Arc<RwLock<Redactor>> {
        self.redactor.clone()
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

    fn lookup(&self, reference: &Reference) -> Result<String, String> {
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

/// Sends events, stamping each with wall-clock time and the sender's virtual time.
#[derive(Clone)]
pub struct Events {
    sender: UnboundedSender<RunEvent>,
    clock: Clock,
}

impl Events {
    pub fn new(sender: UnboundedSender<RunEvent>, clock: Clock) -> Self {
        Self { sender, clock }
    }

    /// Emits an event at a point of virtual time.
    pub fn emit_at(&self, elapsed: std::time::Duration, kind: EventKind) {
        // The receiver lives as long as the run; a send can only fail after it ended.
        let _ = self.sender.send(RunEvent {
            at: self.clock.wall_now(),
            elapsed,
            kind,
        });
    }

    pub fn emit(&self, timeline: &Timeline, kind: EventKind) {
        self.emit_at(timeline.now(), kind);
    }
}
