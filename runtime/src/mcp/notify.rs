//! What a client hears while a request waits on server-side work: progress notifications for
//! the request (when it carries a `progressToken`), and log messages (`notifications/message`)
//! for the shell commands its workflow runs, filtered by the session's `logging/setLevel`.
#![allow(deprecated, reason = "MCP's logging is deprecated by SEP-2577 but is what clients speak today")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::RoleServer;
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken};
use rmcp::service::Peer;

use crate::engine::{Observer, Running};
use crate::machine::ShellOutput;

/// Tells one request's client of the server-side work it waits on: progress notifications
/// (when the request carried a `progressToken`) and log messages for shell commands (at or
/// above the session's level).
pub(super) struct Notifier {
    peer: Peer<RoleServer>,
    progress: Option<ProgressToken>,
    /// Progress notifications sent, the count each reports (it must grow).
    sent: AtomicU64,
    log_level: Level,
}

/// A session's log level (`logging/setLevel`), shared by its requests.
#[derive(Clone, Debug)]
pub(super) struct Level(Arc<Mutex<LoggingLevel>>);

impl Default for Level {
    /// Until the client sets one, shell commands started and finished are sent.
    fn default() -> Self {
        Level(Arc::new(Mutex::new(LoggingLevel::Info)))
    }
}

impl Level {
    pub(super) fn set(&self, level: LoggingLevel) {
        if let Ok(mut current) = self.0.lock() {
            *current = level;
        }
    }

    /// Whether a message at `level` is sent.
    fn admits(&self, level: LoggingLevel) -> bool {
        self.0.lock().is_ok_and(|least| severity(level) >= severity(*least))
    }
}

impl Notifier {
    pub(super) fn new(peer: Peer<RoleServer>, progress: Option<ProgressToken>, log_level: Level) -> Notifier {
        Notifier { peer, progress, sent: AtomicU64::new(0), log_level }
    }

    fn log(&self, level: LoggingLevel, data: serde_json::Value) {
        if !self.log_level.admits(level) {
            return;
        }
        let peer = self.peer.clone();
        let message = LoggingMessageNotificationParam::new(level, data).with_logger("wfc.shell");
        tokio::spawn(async move {
            let _ = peer.notify_logging_message(message).await;
        });
    }
}

/// MCP's log levels, least severe first.
fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

impl Observer for Notifier {
    fn progress(&self, running: &Running) {
        let Some(token) = self.progress.clone() else { return };
        let count = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        let last = running.output_tail.last().map_or(String::new(), |line| format!(": {line}"));
        let message = format!("`{}` running for {:.0} s{last}", running.step_id, running.elapsed_seconds);
        let peer = self.peer.clone();
        tokio::spawn(async move {
            let _ = peer.notify_progress(ProgressNotificationParam::new(token, count as f64).with_message(message)).await;
        });
    }

    fn shell_started(&self, step_id: &str, command: &str) {
        self.log(LoggingLevel::Info, serde_json::json!({"event": "shell_started", "step_id": step_id, "command": command}));
    }

    fn shell_finished(&self, step_id: &str, seconds: f64, output: &ShellOutput) {
        let level = if output.exit_code == Some(0) { LoggingLevel::Info } else { LoggingLevel::Warning };
        let detail = serde_json::json!({"event": "shell_finished", "step_id": step_id, "seconds": seconds, "exit_code": output.exit_code, "failure": output.failure});
        self.log(level, detail);
    }
}
