//! Where instances live between requests and across restarts (DESIGN.md §6).
//!
//! The engine hands the store one [`Stored`] instance per step boundary: the instance's whole record
//! (machine snapshots, where each waits, its sub-agent tasks) as JSON, with the definition's
//! hash and a version one higher than the last. The store writes it in one transaction and
//! refuses a version that does not follow the stored one, so two servers sharing a database
//! (the PostgreSQL store to come) cannot both advance an instance. [`Sqlite`] is the store
//! `wfc serve` uses; its schema is plain SQL that PostgreSQL takes as it is (`record` becomes
//! `jsonb` there), see `docs/durability.md`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

/// An instance as the store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// `wf_…`.
    pub id: String,
    /// The workflow's name.
    pub workflow: String,
    /// The hash of the definition it runs under.
    pub definition_hash: String,
    /// 1 when started, one more at every commit.
    pub version: u64,
    /// `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// Seconds since the Unix epoch.
    pub created_at: f64,
    /// When it ended, if it did.
    pub finished_at: Option<f64>,
    /// The engine's record of the instance (JSON).
    pub record: String,
}

/// One entry of an instance's execution history (`workflow_history`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct HistoryEvent {
    /// 1, 2, … per instance (0 is the summary of entries dropped past the bound).
    pub seq: u64,
    /// Seconds since the Unix epoch.
    pub at: f64,
    /// The sub-agent task it happened in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// `started`, `step_handed`, `step_completed`, `branch`, `loop_iteration`, `state_write`,
    /// `computed_refresh`, `shell`, `retry`, `tasks_started`, `error`, `timeout`, `status`,
    /// `resumed`, `lost`, `limit_near`, `summary`.
    pub kind: String,
    /// The step, if it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// What else there is to say (values written, durations, exit codes, …).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
    /// Who caused it: the server (entries written before actors were recorded read so), or
    /// the client whose request it happened in.
    #[serde(default)]
    pub actor: Actor,
}

/// Who caused a history entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Actor {
    /// `server` (its own work: a command carried on after an answer, a timeout, the sweep) or
    /// `client` (a request's).
    pub kind: ActorKind,
    /// The client's name and version, as it gave them in `initialize` (`claude-code 2.1.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The MCP session (HTTP's `Mcp-Session-Id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// `stdio`, `http` or `terminal` (`wfc run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    /// The peer's address, over HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_address: Option<String>,
}

/// Whether the server or a client caused a history entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// The server's own doing.
    #[default]
    Server,
    /// A client's request.
    Client,
}

/// `events` of instance `workflow_id` (of workflow `workflow_name`) as JSON lines, each entry
/// led by the instance's id and workflow: what `wfc history --format jsonl` prints and
/// `--audit-log` appends.
pub fn audit_lines(workflow_id: &str, workflow_name: &str, events: &[HistoryEvent]) -> String {
    let mut out = String::new();
    for event in events {
        let mut line = serde_json::Map::new();
        line.insert("workflow_id".into(), workflow_id.into());
        line.insert("workflow_name".into(), workflow_name.into());
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(event) {
            line.extend(fields);
        }
        out.push_str(&serde_json::Value::Object(line).to_string());
        out.push('\n');
    }
    out
}

/// A named snapshot of an instance (`workflow_checkpoint`).
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Its name.
    pub name: String,
    /// The step the instance stood at.
    pub step_id: Option<String>,
    /// Why it was taken.
    pub reason: Option<String>,
    /// When it was taken.
    pub created_at: f64,
    /// The instance as it was.
    pub instance: Stored,
}

/// Why the store could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Another writer advanced the instance first: the version did not follow the stored one.
    Conflict {
        /// The instance.
        id: String,
        /// The version this writer wanted to write.
        version: u64,
    },
    /// The database failed (disk full, file locked, corrupt).
    Database(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Conflict { id, version } => {
                write!(f, "instance `{id}` was changed by another writer (version {version} is taken or does not follow the stored one)")
            }
            StoreError::Database(message) => write!(f, "the store failed: {message}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}

/// The store the engine writes through. Every method is one transaction.
pub trait Store: Send + Sync {
    /// Writes `commit` if its version follows the stored one (or it is version 1 of a new
    /// instance), in one transaction; otherwise [`StoreError::Conflict`] and nothing changes.
    /// The `history` entries since the last commit are kept once the commit is: a store may
    /// write them a moment later (see [`Sqlite`]).
    fn commit(&self, commit: &Stored, history: &[HistoryEvent]) -> Result<(), StoreError>;
    /// An instance's history (of one task, if given), entries after `since`, in order; from the
    /// start (`since` 0), the summary of dropped entries comes first.
    fn history(&self, id: &str, task_id: Option<&str>, since: u64) -> Result<Vec<HistoryEvent>, StoreError>;
    /// The number of the last history entry written for instance `id` (0 if none): less than
    /// the instance's own count when entries were lost with the process that made them.
    fn history_end(&self, id: &str) -> Result<u64, StoreError>;
    /// Writes whatever history entries are still held back (at shutdown).
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// The instances that have not ended, oldest first.
    fn running(&self) -> Result<Vec<Stored>, StoreError>;
    /// How many instances have not ended.
    fn running_count(&self) -> Result<u64, StoreError>;
    /// One stored instance.
    fn get(&self, id: &str) -> Result<Option<Stored>, StoreError>;
    /// Keeps `checkpoint` under its name (replacing one of the same name).
    fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError>;
    /// The checkpoint `name` of instance `id`.
    fn checkpoint(&self, id: &str, name: &str) -> Result<Option<Checkpoint>, StoreError>;
    /// Removes instances that ended before `finished_before`, with their checkpoints; returns
    /// their ids.
    fn sweep(&self, finished_before: f64) -> Result<Vec<String>, StoreError>;
}

/// The tables, as SQL both SQLite and PostgreSQL take (but for `WITHOUT ROWID`, which keeps a
/// history entry in one b-tree instead of a table and its key index; PostgreSQL drops it).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS wfc_instances (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    definition_hash TEXT NOT NULL,
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS wfc_instances_finished ON wfc_instances (finished_at);
CREATE TABLE IF NOT EXISTS wfc_history (
    instance_id TEXT NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    events TEXT NOT NULL,
    PRIMARY KEY (instance_id, first_seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS wfc_checkpoints (
    instance_id TEXT NOT NULL,
    name TEXT NOT NULL,
    step_id TEXT,
    reason TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    workflow TEXT NOT NULL,
    definition_hash TEXT NOT NULL,
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    instance_created_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION,
    record TEXT NOT NULL,
    PRIMARY KEY (instance_id, name)
);
";

/// The SQLite store: one file in WAL mode (or a private in-memory database).
///
/// History entries do not slow a commit down: a commit hands them to a background thread,
/// which writes what has gathered every [`Background::FLUSH_EVERY`] in one transaction, one
/// row per instance (the entries as a JSON array). Reading a history writes what is held back
/// first. Entries held back when the process dies are lost; the instance's record knows how
/// many it made, so the engine notes the loss in the history when it loads the instance
/// again ([`Store::history_end`]).
pub struct Sqlite {
    shared: Arc<Shared>,
    /// Writes the history (and checkpoints a file's WAL); stopped, then flushed, on drop.
    background: Option<Background>,
}

struct Shared {
    connection: Mutex<Connected>,
    /// Held through a flush, so a flush that returns has seen every earlier one finish.
    flushing: Mutex<()>,
    /// Entries of committed steps not yet written, by instance, in commit order.
    pending: Mutex<Vec<(String, Vec<HistoryEvent>)>>,
    /// History entries kept per instance; older ones are folded into one summary entry.
    history_limit: AtomicU64,
}

struct Connected {
    connection: Connection,
    /// The oldest history entry kept, by instance (so a write need not ask the database).
    oldest: std::collections::HashMap<String, u64>,
}

/// History entries kept per instance by default.
pub const DEFAULT_HISTORY_LIMIT: u64 = 10_000;

impl Sqlite {
    /// Opens (creating) the database at `path`, and its parent directory if missing.
    pub fn open(path: &Path) -> Result<Sqlite, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Database(format!("cannot create {}: {e}", parent.display())))?;
        }
        let open = || Connection::open(path).map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())));
        let connection = open()?;
        // WAL: readers never block the writer; `synchronous = NORMAL` makes a commit durable
        // against a crash of the process (what SIGKILL does) without an fsync per commit; a
        // power loss may lose the last commits, never corrupt the file.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        // Checkpoints (copying the WAL into the file, with an fsync each) run on the
        // background thread, over a connection of its own, so a commit never waits for one;
        // committing connections checkpoint only as a safety net, should the WAL grow past
        // 64 MiB all the same.
        connection.pragma_update(None, "wal_autocheckpoint", 16_384)?;
        let checkpoints = open()?;
        checkpoints.busy_timeout(std::time::Duration::from_secs(5))?;
        Sqlite::with(connection, Some(checkpoints))
    }

    /// A database in memory: nothing survives the process (`--store memory`, tests).
    pub fn in_memory() -> Result<Sqlite, StoreError> {
        Sqlite::with(Connection::open_in_memory()?, None)
    }

    fn with(connection: Connection, checkpoints: Option<Connection>) -> Result<Sqlite, StoreError> {
        connection.execute_batch(SCHEMA)?;
        let shared = Arc::new(Shared {
            connection: Mutex::new(Connected { connection, oldest: std::collections::HashMap::new() }),
            flushing: Mutex::new(()),
            pending: Mutex::new(Vec::new()),
            history_limit: AtomicU64::new(DEFAULT_HISTORY_LIMIT),
        });
        let background = Background::start(Arc::clone(&shared), checkpoints)?;
        Ok(Sqlite { shared, background: Some(background) })
    }

    /// Keeps at most `limit` history entries per instance (older ones are summarized).
    pub fn with_history_limit(self, limit: u64) -> Sqlite {
        self.shared.history_limit.store(limit.max(1), Ordering::Relaxed);
        self
    }

    fn connection(&self) -> MutexGuard<'_, Connected> {
        self.shared.connection()
    }
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        if let Some(background) = self.background.take() {
            background.stop();
        }
        if let Err(error) = self.shared.flush() {
            tracing::error!(%error, "the last history entries could not be written");
        }
    }
}

/// Locks `mutex`. A panic while holding it cannot leave a transaction open (rusqlite rolls
/// back an unfinished transaction when it is dropped), so a poisoned lock is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn connection(&self) -> MutexGuard<'_, Connected> {
        lock(&self.connection)
    }

    /// Writes the held-back history entries in one transaction: once a flush returns, every
    /// entry committed before it is readable. The entries are encoded before the connection
    /// is taken, so commits wait only for the writing. Entries that could not be written are
    /// kept for the next flush.
    fn flush(&self) -> Result<(), StoreError> {
        let _flushing = lock(&self.flushing);
        let batches = std::mem::take(&mut *lock(&self.pending));
        if batches.is_empty() {
            return Ok(());
        }
        let written = encode_rows(&batches).and_then(|rows| self.connection().append_history(&rows, self.history_limit.load(Ordering::Relaxed)));
        if written.is_err() {
            let mut pending = lock(&self.pending);
            let newer = std::mem::replace(&mut *pending, batches);
            pending.extend(newer);
        }
        written
    }
}

/// One history row to write: an instance's entries from `first` to `last`, as a JSON array.
struct Row<'a> {
    id: &'a str,
    first: u64,
    last: u64,
    events: String,
}

/// One row per instance, its entries of `batches` in order.
fn encode_rows(batches: &[(String, Vec<HistoryEvent>)]) -> Result<Vec<Row<'_>>, StoreError> {
    let mut by_instance: Vec<(&str, Vec<&HistoryEvent>)> = Vec::new();
    for (id, events) in batches {
        match by_instance.iter_mut().find(|(seen, _)| seen == id) {
            Some((_, gathered)) => gathered.extend(events),
            None => by_instance.push((id, events.iter().collect())),
        }
    }
    by_instance
        .into_iter()
        .filter_map(|(id, events)| {
            let (first, last) = (events.first()?.seq, events.last()?.seq);
            Some(serde_json::to_string(&events).map(|events| Row { id, first, last, events }))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::Database(format!("cannot encode the history: {e}")))
}

impl Connected {
    /// Writes `rows`, trimming each instance's history to `limit` once it has grown a tenth
    /// past it.
    fn append_history(&mut self, rows: &[Row<'_>], limit: u64) -> Result<(), StoreError> {
        let transaction = self.connection.transaction()?;
        let mut kept = Vec::with_capacity(rows.len());
        for row in rows {
            transaction
                .prepare_cached("INSERT INTO wfc_history (instance_id, first_seq, last_seq, events) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![row.id, row.first as i64, row.last as i64, row.events])?;
            let kept_from = match self.oldest.get(row.id) {
                Some(seq) => *seq,
                None => {
                    let seq: Option<i64> =
                        transaction.prepare_cached("SELECT MIN(first_seq) FROM wfc_history WHERE instance_id = ?1 AND first_seq > 0")?.query_row([row.id], |r| r.get(0))?;
                    seq.map_or(row.first, |seq| seq as u64)
                }
            };
            let kept_from = if row.last.saturating_sub(kept_from) >= limit + limit / 10 { trim_history(&transaction, row.id, row.last - limit)? } else { kept_from };
            kept.push((row.id, kept_from));
        }
        transaction.commit()?;
        for (id, kept_from) in kept {
            self.oldest.insert(id.to_owned(), kept_from);
        }
        Ok(())
    }
}

/// The store's background thread: it writes the held-back history every
/// [`Background::FLUSH_EVERY`] and, for a file, checkpoints the WAL every
/// [`Background::CHECKPOINT_EVERY`] (`PASSIVE`, over a connection of its own: it never
/// blocks a writer, and what it cannot copy now it copies next time).
struct Background {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Background {
    const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(10);
    const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

    fn start(shared: Arc<Shared>, checkpoints: Option<Connection>) -> Result<Background, StoreError> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("wfc-store".to_owned())
            .spawn(move || {
                let mut checkpointed = std::time::Instant::now();
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(Background::FLUSH_EVERY) {
                    if let Err(error) = shared.flush() {
                        tracing::warn!(%error, "history entries could not be written; the next flush retries");
                    }
                    if let Some(connection) = &checkpoints
                        && checkpointed.elapsed() >= Background::CHECKPOINT_EVERY
                    {
                        checkpointed = std::time::Instant::now();
                        if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                            tracing::warn!(%error, "WAL checkpoint failed; the next one retries");
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Database(format!("cannot start the store's background thread: {e}")))?;
        Ok(Background { stop, thread })
    }

    /// Ends the thread and waits for it.
    fn stop(self) {
        drop(self.stop);
        if self.thread.join().is_err() {
            tracing::error!("the store's background thread panicked");
        }
    }
}

const COLUMNS: &str = "id, workflow, definition_hash, version, status, created_at, finished_at, record";

fn stored(row: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored {
        id: row.get(0)?,
        workflow: row.get(1)?,
        definition_hash: row.get(2)?,
        version: row.get::<_, i64>(3)? as u64,
        status: row.get(4)?,
        created_at: row.get(5)?,
        finished_at: row.get(6)?,
        record: row.get(7)?,
    })
}

impl Store for Sqlite {
    fn commit(&self, commit: &Stored, history: &[HistoryEvent]) -> Result<(), StoreError> {
        let mut connected = self.connection();
        let transaction = connected.connection.transaction()?;
        // Cached: parsing the statement would cost as much as running it.
        let written = transaction
            .prepare_cached(
                "INSERT INTO wfc_instances (id, workflow, definition_hash, version, status, created_at, finished_at, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET
                     workflow = excluded.workflow, definition_hash = excluded.definition_hash, version = excluded.version,
                     status = excluded.status, finished_at = excluded.finished_at, record = excluded.record
                 WHERE wfc_instances.version = excluded.version - 1",
            )?
            .execute(params![
                commit.id,
                commit.workflow,
                commit.definition_hash,
                commit.version as i64,
                commit.status,
                commit.created_at,
                commit.finished_at,
                commit.record
            ])?;
        fault::in_commit();
        if written != 1 {
            return Err(StoreError::Conflict { id: commit.id.clone(), version: commit.version });
        }
        transaction.commit()?;
        // Held back before the connection is let go: whoever reads this commit next (a
        // history read, `history_end`) flushes after, and so finds its entries.
        if !history.is_empty() {
            lock(&self.shared.pending).push((commit.id.clone(), history.to_vec()));
        }
        Ok(())
    }

    fn history(&self, id: &str, task_id: Option<&str>, since: u64) -> Result<Vec<HistoryEvent>, StoreError> {
        self.shared.flush()?;
        let connected = self.connection();
        let mut statement = connected
            .connection
            .prepare_cached("SELECT events FROM wfc_history WHERE instance_id = ?1 AND (last_seq > ?2 OR first_seq = 0) ORDER BY first_seq")?;
        let rows = statement.query_map(params![id, since as i64], |row| row.get::<_, String>(0))?;
        let mut events = Vec::new();
        for row in rows {
            let batch: Vec<HistoryEvent> = serde_json::from_str(&row?).map_err(|e| StoreError::Database(format!("a history entry cannot be read: {e}")))?;
            events.extend(batch.into_iter().filter(|event| match event.seq {
                0 => since == 0,
                seq => seq > since && (task_id.is_none() || event.task_id.as_deref() == task_id),
            }));
        }
        Ok(events)
    }

    fn history_end(&self, id: &str) -> Result<u64, StoreError> {
        self.shared.flush()?;
        let end: Option<i64> = self.connection().connection.prepare_cached("SELECT MAX(last_seq) FROM wfc_history WHERE instance_id = ?1")?.query_row([id], |row| row.get(0))?;
        Ok(end.map_or(0, |end| end as u64))
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.shared.flush()
    }

    fn running(&self) -> Result<Vec<Stored>, StoreError> {
        let connected = self.connection();
        let mut statement = connected.connection.prepare_cached(&format!("SELECT {COLUMNS} FROM wfc_instances WHERE finished_at IS NULL ORDER BY created_at, id"))?;
        let rows = statement.query_map([], stored)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn running_count(&self) -> Result<u64, StoreError> {
        let count: i64 = self.connection().connection.prepare_cached("SELECT COUNT(*) FROM wfc_instances WHERE finished_at IS NULL")?.query_row([], |row| row.get(0))?;
        Ok(count as u64)
    }

    fn get(&self, id: &str) -> Result<Option<Stored>, StoreError> {
        let connected = self.connection();
        let connection = &connected.connection;
        Ok(connection.prepare_cached(&format!("SELECT {COLUMNS} FROM wfc_instances WHERE id = ?1"))?.query_row([id], stored).optional()?)
    }

    fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let instance = &checkpoint.instance;
        self.connection().connection.prepare_cached(
            "INSERT INTO wfc_checkpoints
                 (instance_id, name, step_id, reason, created_at, workflow, definition_hash, version, status, instance_created_at, finished_at, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (instance_id, name) DO UPDATE SET
                 step_id = excluded.step_id, reason = excluded.reason, created_at = excluded.created_at,
                 workflow = excluded.workflow, definition_hash = excluded.definition_hash, version = excluded.version,
                 status = excluded.status, instance_created_at = excluded.instance_created_at,
                 finished_at = excluded.finished_at, record = excluded.record",
        )?.execute(
            params![
                instance.id,
                checkpoint.name,
                checkpoint.step_id,
                checkpoint.reason,
                checkpoint.created_at,
                instance.workflow,
                instance.definition_hash,
                instance.version as i64,
                instance.status,
                instance.created_at,
                instance.finished_at,
                instance.record
            ],
        )?;
        Ok(())
    }

    fn checkpoint(&self, id: &str, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        let connected = self.connection();
        let connection = &connected.connection;
        let found = connection
            .prepare_cached(
                "SELECT instance_id, workflow, definition_hash, version, status, instance_created_at, finished_at, record,
                        name, step_id, reason, created_at
                 FROM wfc_checkpoints WHERE instance_id = ?1 AND name = ?2",
            )?
            .query_row(
                [id, name],
                |row| Ok(Checkpoint { instance: stored(row)?, name: row.get(8)?, step_id: row.get(9)?, reason: row.get(10)?, created_at: row.get(11)? }),
            )
            .optional()?;
        Ok(found)
    }

    fn sweep(&self, finished_before: f64) -> Result<Vec<String>, StoreError> {
        // Held-back entries of a swept instance would come back as orphans.
        self.shared.flush()?;
        let mut connected = self.connection();
        let transaction = connected.connection.transaction()?;
        let ids: Vec<String> = {
            let mut statement = transaction.prepare("SELECT id FROM wfc_instances WHERE finished_at IS NOT NULL AND finished_at < ?1")?;
            statement.query_map([finished_before], |row| row.get(0))?.collect::<Result<_, _>>()?
        };
        for id in &ids {
            transaction.execute("DELETE FROM wfc_checkpoints WHERE instance_id = ?1", [id])?;
            transaction.execute("DELETE FROM wfc_history WHERE instance_id = ?1", [id])?;
            transaction.execute("DELETE FROM wfc_instances WHERE id = ?1", [id])?;
        }
        transaction.commit()?;
        for id in &ids {
            connected.oldest.remove(id);
        }
        Ok(ids)
    }
}

/// Folds the history rows of `id` wholly at or before `cutoff` into its summary entry (seq
/// 0: how many entries were dropped, of which kinds), so the history stays bounded and never
/// drops an entry unsaid; returns the oldest entry kept. Runs once the history has grown a
/// tenth past its limit, so its cost is spread over many writes.
fn trim_history(transaction: &rusqlite::Transaction<'_>, id: &str, cutoff: u64) -> Result<u64, StoreError> {
    let unreadable = |e: serde_json::Error| StoreError::Database(format!("a history entry cannot be read: {e}"));
    let mut summary = HistoryEvent { seq: 0, at: 0.0, task_id: None, kind: "summary".into(), step_id: None, detail: serde_json::json!({"dropped": 0, "kinds": {}}), actor: Actor::default() };
    let previous: Option<String> = transaction.query_row("SELECT events FROM wfc_history WHERE instance_id = ?1 AND first_seq = 0", [id], |row| row.get(0)).optional()?;
    if let Some(previous) = previous {
        let mut batch: Vec<HistoryEvent> = serde_json::from_str(&previous).map_err(unreadable)?;
        if let Some(event) = batch.pop() {
            summary = event;
        }
    }
    let dropped_rows: Vec<String> = {
        let mut statement = transaction.prepare("SELECT events FROM wfc_history WHERE instance_id = ?1 AND first_seq > 0 AND last_seq <= ?2")?;
        statement.query_map(params![id, cutoff as i64], |row| row.get(0))?.collect::<Result<_, _>>()?
    };
    let mut dropped = summary.detail["dropped"].as_u64().unwrap_or(0);
    let mut kinds = summary.detail["kinds"].as_object().cloned().unwrap_or_default();
    let mut through = summary.detail["through_seq"].as_u64().unwrap_or(0);
    /// What the summary needs of an entry: reading only this skips building its detail.
    #[derive(serde::Deserialize)]
    struct Counted<'a> {
        seq: u64,
        #[serde(borrow)]
        kind: std::borrow::Cow<'a, str>,
    }
    let mut count = |seq: u64, kind: &str| {
        dropped += 1;
        through = through.max(seq);
        match kinds.get_mut(kind) {
            Some(count) => *count = (count.as_u64().unwrap_or(0) + 1).into(),
            None => {
                kinds.insert(kind.to_owned(), 1.into());
            }
        }
    };
    for row in &dropped_rows {
        let batch: Vec<Counted<'_>> = serde_json::from_str(row).map_err(unreadable)?;
        batch.iter().for_each(|event| count(event.seq, &event.kind));
    }
    // The row the cutoff falls inside (a flush's worth of entries) keeps only its entries after
    // the cutoff, so the history is cut at the limit exactly, not a whole row later.
    let straddling: Option<(i64, String)> = transaction
        .query_row(
            "SELECT first_seq, events FROM wfc_history WHERE instance_id = ?1 AND first_seq > 0 AND first_seq <= ?2 AND last_seq > ?2",
            params![id, cutoff as i64],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    if let Some((first_seq, events)) = straddling {
        let (gone, kept): (Vec<HistoryEvent>, Vec<HistoryEvent>) =
            serde_json::from_str::<Vec<HistoryEvent>>(&events).map_err(unreadable)?.into_iter().partition(|event| event.seq <= cutoff);
        gone.iter().for_each(|event| count(event.seq, &event.kind));
        let kept_from = kept.first().map_or(cutoff + 1, |event| event.seq);
        let encoded = serde_json::to_string(&kept).map_err(unreadable)?;
        transaction.execute(
            "UPDATE wfc_history SET first_seq = ?3, events = ?4 WHERE instance_id = ?1 AND first_seq = ?2",
            params![id, first_seq, kept_from as i64, encoded],
        )?;
    }
    summary.detail = serde_json::json!({"dropped": dropped, "through_seq": through, "kinds": kinds});
    transaction.execute("DELETE FROM wfc_history WHERE instance_id = ?1 AND first_seq > 0 AND last_seq <= ?2", params![id, cutoff as i64])?;
    let events = serde_json::to_string(&[summary]).map_err(unreadable)?;
    transaction.execute(
        "INSERT INTO wfc_history (instance_id, first_seq, last_seq, events) VALUES (?1, 0, 0, ?2)
         ON CONFLICT (instance_id, first_seq) DO UPDATE SET events = excluded.events",
        params![id, events],
    )?;
    let oldest: Option<i64> = transaction.query_row("SELECT MIN(first_seq) FROM wfc_history WHERE instance_id = ?1 AND first_seq > 0", [id], |row| row.get(0))?;
    Ok(oldest.map_or(cutoff + 1, |seq| seq as u64))
}

/// A crash in the middle of a commit, for the crash test: with the `fault-injection` feature,
/// `WFC_FAULT_KILL_IN_COMMIT=N` kills the process with SIGKILL inside its Nth commit, after the
/// row is written and before the transaction commits. Without the feature this is nothing.
mod fault {
    #[cfg(feature = "fault-injection")]
    pub(super) fn in_commit() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COMMITS: AtomicU64 = AtomicU64::new(0);
        let Some(target) = std::env::var("WFC_FAULT_KILL_IN_COMMIT").ok().and_then(|n| n.parse::<u64>().ok()) else { return };
        if COMMITS.fetch_add(1, Ordering::SeqCst) + 1 == target {
            // SAFETY: kill(2) on our own pid with a valid signal number has no memory effects.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    pub(super) fn in_commit() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(version: u64, record: &str) -> Stored {
        Stored {
            id: "wf_1".into(),
            workflow: "test:w".into(),
            definition_hash: "h".into(),
            version,
            status: "running".into(),
            created_at: 1.0,
            finished_at: None,
            record: record.into(),
        }
    }

    #[test]
    fn a_commit_must_follow_the_stored_version() {
        let store = Sqlite::in_memory().unwrap();
        store.commit(&instance(1, "a"), &[]).unwrap();
        store.commit(&instance(2, "b"), &[]).unwrap();
        assert_eq!(store.commit(&instance(2, "c"), &[]), Err(StoreError::Conflict { id: "wf_1".into(), version: 2 }));
        assert_eq!(store.commit(&instance(4, "c"), &[]), Err(StoreError::Conflict { id: "wf_1".into(), version: 4 }));
        assert_eq!(store.commit(&instance(1, "again"), &[]), Err(StoreError::Conflict { id: "wf_1".into(), version: 1 }));
        assert_eq!(store.get("wf_1").unwrap().unwrap().record, "b");
    }

    #[test]
    fn sweep_removes_only_instances_that_ended_before_the_cutoff() {
        let store = Sqlite::in_memory().unwrap();
        store.commit(&instance(1, "a"), &[]).unwrap();
        let mut old = instance(1, "old");
        old.id = "wf_old".into();
        old.finished_at = Some(5.0);
        store.commit(&old, &[]).unwrap();
        store.save_checkpoint(&Checkpoint { name: "cp".into(), step_id: None, reason: None, created_at: 4.0, instance: old }).unwrap();
        assert_eq!(store.running_count().unwrap(), 1);
        assert_eq!(store.sweep(10.0).unwrap(), vec!["wf_old".to_owned()]);
        assert_eq!(store.get("wf_old").unwrap(), None);
        assert_eq!(store.running().unwrap().len(), 1);
        assert_eq!(store.checkpoint("wf_old", "cp").unwrap(), None);
    }

    #[test]
    fn a_history_is_cut_at_its_limit_even_inside_one_written_row() {
        let store = Sqlite::in_memory().unwrap().with_history_limit(20);
        let event = |seq| HistoryEvent { seq, at: 1.0, task_id: None, kind: "step_handed".into(), step_id: None, detail: serde_json::Value::Null, actor: Actor::default() };
        // Thirty entries in one commit: the store writes them as one row.
        store.commit(&instance(1, "a"), &(1..=30).map(event).collect::<Vec<_>>()).unwrap();
        let history = store.history("wf_1", None, 0).unwrap();
        let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [0].into_iter().chain(11..=30).collect::<Vec<_>>(), "the summary, then the last twenty");
        assert_eq!(history[0].detail["dropped"], 10);
        assert_eq!(history[0].detail["kinds"]["step_handed"], 10);
    }

    #[test]
    fn the_wal_is_checkpointed_in_the_background() {
        let dir = std::env::temp_dir().join(format!("wfc-store-wal-{}", std::process::id()));
        let path = dir.join("state.db");
        let store = Sqlite::open(&path).unwrap();
        let big = "x".repeat(200_000);
        store.commit(&instance(1, &big), &[]).unwrap();
        // The commit lands in the WAL; only a checkpoint copies it into the file itself, and
        // committing connections leave that to the checkpointer (16 MiB is far off).
        let copied = (0..50).any(|_| {
            std::thread::sleep(Background::CHECKPOINT_EVERY / 4);
            std::fs::metadata(&path).map_or(0, |m| m.len()) > 200_000
        });
        drop(store);
        std::fs::remove_dir_all(&dir).ok();
        assert!(copied, "the checkpointer copied the WAL into the database file");
    }

    #[test]
    fn a_file_store_keeps_instances_across_opens() {
        let dir = std::env::temp_dir().join(format!("wfc-store-{}", std::process::id()));
        let path = dir.join("nested").join("state.db");
        {
            let store = Sqlite::open(&path).unwrap();
            store.commit(&instance(1, "kept"), &[]).unwrap();
        }
        let store = Sqlite::open(&path).unwrap();
        assert_eq!(store.running().unwrap(), vec![instance(1, "kept")]);
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
