//! `--audit-log FILE`: every history entry of every instance appended to a file as one JSON
//! line, as it is committed — led by the instance's id and workflow, with its actor (the same
//! lines as `wfc history --format jsonl`). The store stays the record the server works from;
//! the file is for compliance pipelines that collect logs. It is opened for appending and
//! never rotated here (rotate it with the system's tools: `logrotate` with `copytruncate`).

use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use super::store::{HistoryEvent, audit_lines};

/// The audit log file.
#[derive(Debug)]
pub struct AuditLog {
    file: Mutex<std::fs::File>,
}

impl AuditLog {
    /// Opens (or creates) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog { file: Mutex::new(file) })
    }

    /// Appends `events` of one instance, in one write: the entries of one commit are never
    /// interleaved with another's. A failed write is logged and counted
    /// (`wfc_audit_log_failures_total`); the step it records has been committed and stands.
    pub(crate) fn append(&self, workflow_id: &str, workflow_name: &str, events: &[HistoryEvent]) {
        if events.is_empty() {
            return;
        }
        let lines = audit_lines(workflow_id, workflow_name, events);
        let mut file = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(error) = file.write_all(lines.as_bytes()) {
            tracing::error!(%error, workflow_id, "the audit log could not be written");
            metrics::counter!("wfc_audit_log_failures_total").increment(1);
        }
    }
}
