//! SIGHUP to a running `wfc serve`: its settings are resolved again (flags as started, the
//! `WFC_*` environment it started with, the configuration file as it is now) and what can change
//! without a restart changes — the limits (instances, state, tasks, server steps, warnings,
//! message size, expression budgets, how long ended instances are kept), the log filter and the
//! directory `--workflows` serves. Every other setting that differs is named in a warning: it
//! takes a restart. An invalid configuration changes nothing and says why.

use std::sync::Arc;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Registry, reload};
use wfc_runtime::engine::Engine;
use wfc_runtime::value::budget;

use super::serve::DirectoryCatalog;
use crate::settings::Setting;

/// The settings a reload applies; any other that changes takes a restart.
const RELOADABLE: [&str; 11] = [
    "max-active-instances",
    "max-state-bytes",
    "max-tasks-per-step",
    "keep-finished",
    "max-server-steps",
    "limit-warning-at",
    "max-message-bytes",
    "max-eval-operations",
    "max-eval-bytes",
    "log-level",
    "workflows",
];

/// Changes the log filter of the running server.
pub(crate) type LogFilter = reload::Handle<EnvFilter, Registry>;

/// The filter `--log-level` names; without it `RUST_LOG`, else `info`.
fn filter(log_level: Option<&str>) -> Result<EnvFilter, String> {
    match log_level {
        Some(text) => EnvFilter::try_new(text).map_err(|e| format!("--log-level `{text}` is not a tracing filter: {e}")),
        None => Ok(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))),
    }
}

/// Logs to stderr (stdout carries MCP), under a filter a reload can change.
pub(crate) fn init_logging(log_level: Option<&str>) -> Result<LogFilter, String> {
    let (layer, handle) = reload::Layer::new(filter(log_level)?);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false);
    // Already set (a second server in one process, as in tests): the first stays.
    let _ = tracing_subscriber::registry().with(layer).with(fmt).try_init();
    Ok(handle)
}

/// What a reload changes.
pub(crate) struct Reload {
    pub(crate) engine: Arc<Engine>,
    /// The `--workflows` catalog, if that is what is served.
    pub(crate) directory: Option<Arc<DirectoryCatalog>>,
    pub(crate) log_filter: LogFilter,
    /// The serve arguments as given.
    pub(crate) serve_args: Vec<std::ffi::OsString>,
    /// The settings the server started with, which stay in force for what a reload does not
    /// change.
    pub(crate) started: Vec<Setting>,
}

/// Reloads on every SIGHUP, for as long as the server runs.
pub(crate) async fn on_hangup(reload: Reload) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => return tracing::warn!(%error, "cannot listen for SIGHUP; the configuration is not reloaded"),
    };
    while hangups.recv().await.is_some() {
        if let Err(message) = apply(&reload) {
            tracing::error!("SIGHUP: the configuration was not reloaded: {message}");
        }
    }
}

/// Resolves the settings again and applies what can change; warns of what differs from
/// what the server started with and takes a restart.
fn apply(reload: &Reload) -> Result<(), String> {
    let new = crate::reparse_serve(reload.serve_args.clone())?;
    let log = filter(new.log_level.as_deref())?;
    let directory = match &reload.directory {
        Some(catalog) => Some(catalog.reload(new.workflows.as_deref())),
        None => None,
    };
    reload.engine.set_limits(new.limits.limits());
    budget::configure(new.limits.eval_limits());
    reload.log_filter.reload(log).map_err(|e| format!("the log filter: {e}"))?;
    let mut reloaded = "limits, log filter".to_owned();
    match directory {
        Some(Ok((dir, count))) => reloaded.push_str(&format!(", {count} workflow(s) from {}", dir.display())),
        Some(Err(message)) => tracing::error!("SIGHUP: {message}"),
        None => {}
    }
    tracing::info!("SIGHUP: reloaded {reloaded}");
    let unchanged = |setting: &Setting| reload.started.iter().any(|s| s.name == setting.name && s.values == setting.values);
    let restart: Vec<&str> = new.settings.iter().filter(|s| !unchanged(s) && !RELOADABLE.contains(&s.name.as_str())).map(|s| s.name.as_str()).collect();
    if !restart.is_empty() {
        tracing::warn!("SIGHUP: not reloaded, restart to apply: {}", restart.join(", "));
    }
    Ok(())
}
