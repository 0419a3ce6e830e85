//! The sandboxes a plan declares: each starts before the first step that uses it, in the run's
//! folder, on the run's clock and seed, and stops when the run ends (also after a failure or an
//! interruption), leaving a summary of what it recorded.

use crate::exec::{EventKind, RunContext, SandboxAddress, SandboxSummary};
use crate::sandbox::{Fault, RecordedRequest, Sandbox, SandboxConfig, SandboxHandle};
use std::collections::HashMap;
use tokio::sync::Mutex;

/// What a sandbox recorded: counts per endpoint, fault and status, and the multiset the digest
/// holds. Paths are shown with the run's secrets masked (fingerprints were taken so already).
pub fn summarize(
    name: &str,
    recordings: &[RecordedRequest],
    secrets: &crate::observe::Redactor,
) -> SandboxSummary {
    let mut summary = SandboxSummary {
        name: name.to_string(),
        requests: recordings.len(),
        ..SandboxSummary::default()
    };
    for r in recordings {
        let endpoint = r.endpoint.clone().unwrap_or_else(|| "not found".into());
        *summary.endpoints.entry(endpoint.clone()).or_default() += 1;
        let fault = fault_name(r);
        *summary.faults.entry(fault.to_string()).or_default() += 1;
        let status = status_of(r);
        *summary.statuses.entry(status.clone()).or_default() += 1;
        summary.recordings.push([
            endpoint,
            r.method.clone(),
            secrets.redact(&r.path).into_owned(),
            r.fingerprint.clone().unwrap_or_default(),
            r.occurrence.unwrap_or(0).to_string(),
            fault.to_string(),
            status,
        ]);
    }
    summary.recordings.sort();
    summary
}

/// `none`, `error-rate`, `reset`, `close`, `hang`, `slow-body`; a refused signature or body
/// shows as `rejected`.
pub fn fault_name(r: &RecordedRequest) -> &'static str {
    match (&r.fault, &r.answered_by) {
        (Some(f), _) => Fault::as_str(*f),
        (None, crate::sandbox::Answer::Rejected { .. }) => "rejected",
        (None, _) => "none",
    }
}

/// The status the sandbox answered with, or `no-response`.
pub fn status_of(r: &RecordedRequest) -> String {
    r.response
        .as_ref()
        .map_or_else(|| "no-response".to_string(), |resp| resp.status.to_string())
}

/// The run's sandboxes, started on demand.
pub struct Sandboxes {
    slots: HashMap<String, Mutex<Slot>>,
}

enum Slot {
    NotStarted,
    Running(SandboxHandle),
    Failed(String),
    Stopped,
}

impl Sandboxes {
    pub fn new(ctx: &RunContext) -> Self {
        Self {
            slots: ctx
                .plan
                .sandboxes
                .iter()
                .map(|s| (s.name.clone(), Mutex::new(Slot::NotStarted)))
                .collect(),
        }
    }

    fn slot(&self, name: &str) -> Result<&Mutex<Slot>, String> {
        self.slots
            .get(name)
            .ok_or_else(|| format!("the plan declares no sandbox `{name}`"))
    }

    /// Starts the sandbox if it is not running yet; an error says why it could not start.
    pub async fn ensure(&self, ctx: &RunContext, name: &str) -> Result<(), String> {
        if ctx.dry_run {
            // Nothing is started in a dry run; requests show where the sandbox would listen.
            let port = ctx.plan.sandbox(name).map_or(0, |s| s.port);
            ctx.set_sandbox(
                name,
                SandboxAddress {
                    url: format!("http://127.0.0.1:{port}"),
                    host: "127.0.0.1".into(),
                    port,
                },
            );
            return Ok(());
        }
        // Starting is quick and does not wait on anything: the lock is never held across a
        // network wait.
        let mut slot = self.slot(name)?.lock().await;
        match &*slot {
            Slot::Running(_) => Ok(()),
            Slot::Failed(why) => Err(why.clone()),
            Slot::Stopped => Err(format!("sandbox `{name}` has already stopped")),
            Slot::NotStarted => match start(ctx, name) {
                Ok(handle) => {
                    *slot = Slot::Running(handle);
                    Ok(())
                }
                Err(why) => {
                    *slot = Slot::Failed(why.clone());
                    Err(why)
                }
            },
        }
    }

    /// This run's recordings of a sandbox, in arrival order (none if it never started).
    pub async fn recordings(&self, name: &str) -> Result<Vec<RecordedRequest>, String> {
        match &*self.slot(name)?.lock().await {
            Slot::Running(handle) => handle
                .recordings()
                .map_err(|e| format!("cannot read sandbox `{name}`'s recordings: {e}")),
            Slot::Failed(why) => Err(why.clone()),
            Slot::NotStarted | Slot::Stopped => Ok(Vec::new()),
        }
    }

    /// Stops every sandbox that was started, emitting what each recorded.
    pub async fn stop_all(&self, ctx: &RunContext) {
        let mut names: Vec<&String> = self.slots.keys().collect();
        names.sort();
        for name in names {
            let handle = {
                let mut slot = self.slots[name].lock().await;
                match std::mem::replace(&mut *slot, Slot::Stopped) {
                    Slot::Running(handle) => handle,
                    other => {
                        *slot = other;
                        continue;
                    }
                }
            };
            let recordings = handle.recordings().unwrap_or_default();
            let _ = handle.shutdown().await;
            let summary = summarize(name, &recordings, &ctx.redactor());
            ctx.events.emit_at(
                ctx.clock.real_elapsed(),
                EventKind::SandboxStopped {
                    name: name.clone(),
                    summary,
                },
            );
        }
    }
}

/// A sandbox's recordings of this run, and those that match a path glob and a method.
pub struct Matching {
    pub all: Vec<RecordedRequest>,
    /// Indexes into `all`, in arrival order.
    pub matched: Vec<usize>,
}

impl Matching {
    pub fn requests(&self) -> impl Iterator<Item = &RecordedRequest> {
        self.matched.iter().map(|&i| &self.all[i])
    }
}

impl Sandboxes {
    pub async fn matching(
        &self,
        name: &str,
        path: Option<&str>,
        method: Option<&str>,
    ) -> Result<Matching, String> {
        let all = self.recordings(name).await?;
        let pattern = path.map(glob::Pattern::new).transpose().map_err(|e| {
            format!(
                "path \"{}\" is not a valid pattern: {e}",
                path.unwrap_or("")
            )
        })?;
        let matched = all
            .iter()
            .enumerate()
            .filter(|(_, r)| pattern.as_ref().is_none_or(|p| p.matches(&r.path)))
            .filter(|(_, r)| method.is_none_or(|m| r.method.eq_ignore_ascii_case(m)))
            .map(|(i, _)| i)
            .collect();
        Ok(Matching { all, matched })
    }
}

fn start(ctx: &RunContext, name: &str) -> Result<SandboxHandle, String> {
    let decl = ctx
        .plan
        .sandbox(name)
        .ok_or_else(|| format!("the plan declares no sandbox `{name}`"))?;
    let mut resolve = |t: &crate::model::Template| ctx.render(t);
    let config =
        SandboxConfig::from_decl_with(decl, &ctx.plan.base_dir, ctx.random.seed(), &mut resolve)?;
    // What the emulation holds never shows: its client secret and the values it is seeded with.
    if let Some(infisical) = &config.infisical {
        for secret in infisical.secrets() {
            ctx.add_secret(secret);
        }
    }
    let sandbox = Sandbox::new(config, &ctx.run_dir)
        .with_clock(ctx.clock.clone())
        .with_link(ctx.link.clone())
        .with_state_dir(ctx.state_dir.clone());
    let handle = SandboxHandle::spawn(sandbox).map_err(|e| {
        let hint = if e.is_address_in_use() {
            "; choose another `port`, or `port 0` for any free one"
        } else {
            ""
        };
        format!("sandbox `{name}` cannot start: {e}{hint}")
    })?;
    let addr = handle.addr();
    ctx.set_sandbox(
        name,
        SandboxAddress {
            url: handle.url(),
            host: addr.ip().to_string(),
            port: addr.port(),
        },
    );
    ctx.events.emit_at(
        ctx.clock.real_elapsed(),
        EventKind::SandboxStarted {
            name: name.to_string(),
            url: handle.url(),
        },
    );
    Ok(handle)
}
