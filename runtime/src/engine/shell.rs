//! Server-side `shell_command`s: `sh -c` in a process group of its own, in a directory under
//! the project root, with a timeout after which the whole group is killed and caps on what is
//! kept of stdout and stderr.
//!
//! A process can leave its group (`setsid sleep 123 &`) and outlive both the command and its
//! timeout. So every command carries a tag in its environment ([`TAG_VARIABLE`]), which its
//! descendants inherit whatever group or session they move to, and when the step ends (the
//! command exited, timed out or left its output open) every process with the step's tag is
//! killed before the step's slot of `--max-shell-processes` is given back. A command that
//! clears its own environment (`env -i`) escapes this; workflow authors are trusted not to
//! (docs/security.md).

use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::Semaphore;

use crate::machine::ShellOutput;

/// How shell commands run.
#[derive(Clone, Debug)]
pub struct ShellSettings {
    /// Where commands run, and what `working_directory` is relative to.
    pub project_root: PathBuf,
    /// Bytes kept of each of stdout and stderr; the rest is read and dropped, and the
    /// truncation is reported on stderr.
    pub output_cap: usize,
    /// Commands running at once, server-wide; a command waits for a slot (within its own
    /// timeout) when all are taken.
    pub max_processes: usize,
    slots: Arc<Semaphore>,
}

/// Shell commands that may run at once by default.
pub const DEFAULT_MAX_PROCESSES: usize = 16;

/// Bytes kept of each of a command's stdout and stderr by default.
pub const DEFAULT_OUTPUT_CAP: usize = 1024 * 1024;

impl ShellSettings {
    /// Commands in `project_root`, `output_cap` bytes kept per stream, at most `max_processes`
    /// at once.
    pub fn new(project_root: PathBuf, output_cap: usize, max_processes: usize) -> ShellSettings {
        let max_processes = max_processes.max(1);
        ShellSettings { project_root, output_cap, max_processes, slots: Arc::new(Semaphore::new(max_processes)) }
    }
}

impl Default for ShellSettings {
    fn default() -> Self {
        ShellSettings::new(PathBuf::from("."), DEFAULT_OUTPUT_CAP, DEFAULT_MAX_PROCESSES)
    }
}

/// What others see of a running command, and how they stop it: the requests that wait on it
/// report its last lines (`--answer-within`, progress notifications), and `workflow_cancel`
/// stops it.
#[derive(Debug, Default)]
pub struct Watch {
    /// The last [`TAIL_BYTES`] of what it wrote, stdout and stderr as they came.
    tail: std::sync::Mutex<Vec<u8>>,
    /// Lines it wrote so far (newlines seen).
    lines: std::sync::atomic::AtomicU64,
    stop: tokio_util::sync::CancellationToken,
}

/// Bytes of output a [`Watch`] keeps.
const TAIL_BYTES: usize = 4096;

impl Watch {
    /// The last `count` non-empty lines the command wrote so far.
    pub fn last_lines(&self, count: usize) -> Vec<String> {
        let tail = self.tail.lock().map(|tail| String::from_utf8_lossy(&tail).into_owned()).unwrap_or_default();
        let lines: Vec<&str> = tail.lines().map(str::trim_end).filter(|line| !line.is_empty()).collect();
        lines[lines.len().saturating_sub(count)..].iter().map(|line| (*line).to_owned()).collect()
    }

    /// How many lines it wrote so far.
    pub fn line_count(&self) -> u64 {
        self.lines.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Kills the command's processes: it ends as failed, `stopped`.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    fn saw(&self, bytes: &[u8]) {
        self.lines.fetch_add(memchr::memchr_iter(b'\n', bytes).count() as u64, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut tail) = self.tail.lock() {
            tail.extend_from_slice(bytes);
            let over = tail.len().saturating_sub(TAIL_BYTES);
            tail.drain(..over);
        }
    }
}

/// The environment variable that tags a step's processes.
pub const TAG_VARIABLE: &str = "WFC_SHELL_STEP";

/// How long the output pipes may stay open after the command exited (a background process
/// that kept them) before the group is killed.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The longest wait between two attempts of a command.
const MAX_RETRY_DELAY: f64 = 30.0;

/// How long to wait before attempt `attempt` of a command (`error_handling: retry`): `base`
/// seconds (`retry_delay`) before the second, doubling each time, at most 30 s, each spread by
/// up to ±20 % (`jitter`, in [0, 1)) so that instances failing together do not retry together.
pub fn retry_delay(attempt: u32, base: f64, jitter: f64) -> Duration {
    let doublings = attempt.saturating_sub(2).min(16);
    let delay = (base.max(0.0) * f64::from(1u32 << doublings)).min(MAX_RETRY_DELAY);
    Duration::from_secs_f64(delay * (0.8 + 0.4 * jitter.clamp(0.0, 1.0)))
}

/// A number in [0, 1) that differs from call to call (std's randomly keyed hasher): enough to
/// spread retries, not for secrets.
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let bits = std::collections::hash_map::RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Runs `command` and reports what it did; a timeout, a spawn failure, a stop through `watch`
/// or a directory outside the project root is reported in [`ShellOutput::failure`], never as a
/// panic. What it writes shows in `watch` as it comes.
pub async fn run(settings: &ShellSettings, command: &str, working_directory: Option<&str>, timeout_seconds: f64, watch: &Arc<Watch>) -> ShellOutput {
    let directory = match resolve_directory(&settings.project_root, working_directory) {
        Ok(directory) => directory,
        Err(failure) => return ShellOutput { failure: Some(failure), ..ShellOutput::default() },
    };
    let timeout = Duration::from_secs_f64(timeout_seconds.max(0.0));
    let started = std::time::Instant::now();
    // The wait for a slot counts against the step's timeout.
    let Ok(Ok(_slot)) = tokio::time::timeout(timeout, settings.slots.acquire()).await else {
        let failure = format!(
            "timed out after {timeout_seconds} s waiting to start: {} shell commands were running, the limit (--max-shell-processes)",
            settings.max_processes
        );
        return ShellOutput { failure: Some(failure), ..ShellOutput::default() };
    };
    let timeout = timeout.saturating_sub(started.elapsed());
    let tag = step_tag();
    let mut child = match Command::new("sh")
        .arg("-c")
        .arg(command)
        .env(TAG_VARIABLE, &tag)
        .current_dir(&directory)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(error) => {
            let failure = format!("could not start `sh` in {}: {error}", directory.display());
            return ShellOutput { failure: Some(failure), ..ShellOutput::default() };
        }
    };
    let group = child.id();
    let cap = settings.output_cap;
    let stdout = tokio::spawn(read_capped(child.stdout.take(), cap, Arc::clone(watch)));
    let stderr = tokio::spawn(read_capped(child.stderr.take(), cap, Arc::clone(watch)));
    let waited = tokio::select! {
        waited = tokio::time::timeout(timeout, child.wait()) => waited.map_err(|_| format!("timed out after {timeout_seconds} s; the command's process group was killed")),
        () = watch.stop.cancelled() => Err("stopped: the workflow was cancelled; the command's process group was killed".to_owned()),
    };
    metrics::histogram!("wfc_shell_seconds").record(started.elapsed());
    if waited.is_err() && !watch.stop.is_cancelled() {
        metrics::counter!("wfc_shell_timeouts_total").increment(1);
    }
    let (exit_code, mut failure) = match waited {
        Ok(Ok(status)) => (status.code(), None),
        Ok(Err(error)) => (None, Some(format!("waiting for the command failed: {error}"))),
        Err(why) => {
            kill_group(group);
            let _ = child.wait().await;
            (None, Some(why))
        }
    };
    let drained = tokio::time::timeout(DRAIN_GRACE, async { (stdout.await, stderr.await) }).await;
    let ((out, out_cut), (err, err_cut)) = match drained {
        Ok((Ok(out), Ok(err))) => (out, err),
        _ => {
            kill_group(group);
            failure.get_or_insert_with(|| "the command left a background process holding its output open; its group was killed".to_owned());
            ((Vec::new(), false), (Vec::new(), false))
        }
    };
    // Whatever the command left running (in its group or not) ends with the step, before its
    // slot is given back.
    let _ = tokio::task::spawn_blocking(move || kill_tagged(&tag)).await;
    let mut stderr = String::from_utf8_lossy(&err).into_owned();
    for (stream, cut) in [("stdout", out_cut), ("stderr", err_cut)] {
        if cut {
            stderr.push_str(&format!("\n[wfc: {stream} truncated to its first {cap} bytes]"));
        }
    }
    ShellOutput { stdout: String::from_utf8_lossy(&out).into_owned(), stderr, exit_code: if failure.is_some() { None } else { exit_code }, failure }
}

/// `working_directory` under the project root: `..` may not climb out of it, and neither may a
/// symbolic link (the directory is resolved before it is checked).
fn resolve_directory(root: &Path, working_directory: Option<&str>) -> Result<PathBuf, String> {
    let directory = lexically_under(root, working_directory)?;
    let (Ok(resolved), Ok(resolved_root)) = (directory.canonicalize(), root.canonicalize()) else {
        return Err(format!("working_directory `{}` does not exist under the project root", working_directory.unwrap_or(".")));
    };
    if !resolved.starts_with(&resolved_root) {
        return Err(format!("working_directory `{}` leads outside the project root (through a symbolic link)", working_directory.unwrap_or(".")));
    }
    Ok(resolved)
}

/// `working_directory` joined to the root, refused if its `..`s climb above it.
fn lexically_under(root: &Path, working_directory: Option<&str>) -> Result<PathBuf, String> {
    let Some(relative) = working_directory.filter(|d| !d.is_empty()) else { return Ok(root.to_path_buf()) };
    let relative = Path::new(relative);
    let mut depth = 0i32;
    for component in relative.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth -= 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => depth = i32::MIN,
        }
        if depth < 0 {
            return Err(format!("working_directory `{}` is outside the project root", relative.display()));
        }
    }
    Ok(root.join(relative))
}

/// Reads a pipe to its end, keeping the first `cap` bytes; says whether anything was dropped.
async fn read_capped(pipe: Option<impl AsyncRead + Unpin>, cap: usize, watch: Arc<Watch>) -> (Vec<u8>, bool) {
    let Some(mut pipe) = pipe else { return (Vec::new(), false) };
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buffer = [0u8; 8192];
    loop {
        match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => return (kept, truncated),
            Ok(n) => {
                watch.saw(&buffer[..n]);
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
}

/// A tag no other step of this server has: the process id and a counter.
fn step_tag() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// What one look through /proc found.
struct Tagged {
    /// The processes whose environment holds `TAG_VARIABLE=tag`.
    pids: Vec<libc::pid_t>,
    /// Whether a process of this user showed no environment at all: a process in the middle
    /// of `exec` does, for a moment (its new environment is not set up yet), and may be one of
    /// the step's; a kernel thread or a zombie always does, and is not.
    unsure: bool,
}

/// The processes whose environment holds `TAG_VARIABLE=tag` (read from /proc; processes of
/// other users cannot be read and are not ours).
fn tagged_processes(tag: &str) -> Tagged {
    let needle = format!("{TAG_VARIABLE}={tag}\0");
    let mut found = Tagged { pids: Vec::new(), unsure: false };
    let Ok(entries) = std::fs::read_dir("/proc") else { return found };
    for pid in entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok()) {
        match std::fs::read(format!("/proc/{pid}/environ")) {
            Ok(environment) if environment.is_empty() => found.unsure |= between_programs(pid),
            Ok(environment) if memchr::memmem::find(&environment, needle.as_bytes()).is_some() => found.pids.push(pid),
            _ => {}
        }
    }
    found
}

/// Whether `pid`, whose environment reads empty, is a live user process (so it is between two
/// programs, in `exec`), not a kernel thread or a zombie.
fn between_programs(pid: libc::pid_t) -> bool {
    /// `PF_KTHREAD` in the flags of /proc/PID/stat.
    const KERNEL_THREAD: u64 = 0x0020_0000;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // The fields after the command name, which is in parentheses and may hold anything.
    let Some((_, fields)) = stat.rsplit_once(')') else { return false };
    let fields: Vec<&str> = fields.split_whitespace().collect();
    let state = fields.first().copied().unwrap_or("Z");
    let flags = fields.get(6).and_then(|f| f.parse::<u64>().ok()).unwrap_or(KERNEL_THREAD);
    state != "Z" && state != "X" && flags & KERNEL_THREAD == 0
}

/// Kills every process tagged `tag`, again until none is left (one may fork while it is being
/// killed), at most a few rounds; a look that found none but was unsure (a process in `exec`)
/// is made again, twice at most (a process that runs with no environment at all, `env -i`,
/// looks like one in `exec` every time).
fn kill_tagged(tag: &str) {
    let mut unsure_looks = 0;
    for _ in 0..8 {
        let found = tagged_processes(tag);
        if found.pids.is_empty() {
            if !found.unsure || unsure_looks == 2 {
                return;
            }
            unsure_looks += 1;
        }
        for pid in found.pids {
            // SAFETY: `kill` only sends a signal; a process already gone yields ESRCH.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills the process group the command leads (it was started with `process_group(0)`, so its
/// group id is its pid).
fn kill_group(group: Option<u32>) {
    if let Some(pid) = group.and_then(|pid| libc::pid_t::try_from(pid).ok()) {
        // SAFETY: `killpg` only sends a signal; a group that is already gone yields ESRCH.
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ShellSettings {
        ShellSettings::new(std::env::temp_dir(), 16, 2)
    }

    #[test]
    fn retries_back_off_exponentially_up_to_a_cap_with_jitter() {
        let delays: Vec<u64> = (2..=8).map(|attempt| retry_delay(attempt, 1.0, 0.5).as_millis() as u64).collect();
        assert_eq!(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(retry_delay(2, 1.0, 0.0).as_millis(), 800);
        assert_eq!(retry_delay(2, 1.0, 0.999_999).as_millis(), 1199);
        let spread: std::collections::BTreeSet<u64> = (0..20).map(|_| (jitter() * 1000.0) as u64).collect();
        assert!(spread.len() > 10 && spread.iter().all(|j| *j < 1000), "{spread:?}");
    }

    #[tokio::test]
    async fn a_running_command_shows_its_last_lines_and_stops_when_asked() {
        let watch = Arc::new(Watch::default());
        let settings = ShellSettings::new(std::env::temp_dir(), 1024, 2);
        let started = std::time::Instant::now();
        let (output, ()) = tokio::join!(run(&settings, "for i in 1 2 3; do echo line-$i; done; sleep 30", None, 60.0, &watch), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(watch.last_lines(2), ["line-2", "line-3"]);
            watch.stop();
        });
        assert!(started.elapsed() < Duration::from_secs(10), "stopped, not waited out");
        assert_eq!(output.exit_code, None);
        assert!(output.failure.is_some_and(|f| f.starts_with("stopped")));
    }

    #[tokio::test]
    async fn a_command_waits_for_a_free_slot_within_its_timeout() {
        let settings = ShellSettings::new(std::env::temp_dir(), 16, 1);
        let watch = Arc::default();
        let (slow, starved) = tokio::join!(run(&settings, "sleep 1", None, 10.0, &watch), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            run(&settings, "echo late", None, 0.3, &watch).await
        });
        assert_eq!(slow.exit_code, Some(0));
        let failure = starved.failure.expect("no slot in time");
        assert!(failure.contains("--max-shell-processes") && starved.exit_code.is_none(), "{failure}");
        assert_eq!(run(&settings, "echo now", None, 5.0, &Arc::default()).await.stdout, "now\n", "the slot is free again");
    }

    #[tokio::test]
    async fn a_command_reports_its_output_and_exit_code() {
        let output = run(&settings(), "echo out; echo err >&2; exit 3", None, 10.0, &Arc::default()).await;
        assert_eq!((output.stdout.as_str(), output.stderr.as_str(), output.exit_code, output.failure), ("out\n", "err\n", Some(3), None));
    }

    #[tokio::test]
    async fn a_command_past_its_timeout_is_killed_with_its_children() {
        let started = std::time::Instant::now();
        let output = run(&settings(), "sleep 30 & sleep 30; echo never", None, 0.3, &Arc::default()).await;
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
        assert_eq!(output.exit_code, None);
        assert!(output.failure.as_deref().is_some_and(|f| f.contains("timed out after 0.3 s")), "{output:?}");
        assert!(!output.stdout.contains("never"));
    }

    #[tokio::test]
    async fn output_beyond_the_cap_is_dropped_and_reported() {
        let output = run(&settings(), "printf '%040d' 0", None, 10.0, &Arc::default()).await;
        assert_eq!(output.stdout.len(), 16);
        assert!(output.stderr.contains("stdout truncated to its first 16 bytes"), "{output:?}");
    }

    #[tokio::test]
    async fn working_directories_stay_under_the_project_root() {
        let output = run(&settings(), "pwd", Some("../.."), 10.0, &Arc::default()).await;
        assert!(output.failure.as_deref().is_some_and(|f| f.contains("outside the project root")), "{output:?}");
        assert!(lexically_under(Path::new("/p"), Some("a/../b")).is_ok());
        assert!(lexically_under(Path::new("/p"), Some("/etc")).is_err());
        let root = tempfile_root();
        std::fs::create_dir(root.join("inside")).expect("mkdir");
        std::os::unix::fs::symlink("/etc", root.join("escape")).expect("symlink");
        let settings = ShellSettings::new(root.clone(), 1024, 2);
        assert_eq!(run(&settings, "pwd", Some("inside"), 10.0, &Arc::default()).await.stdout.trim(), root.join("inside").canonicalize().expect("dir").display().to_string());
        let escaped = run(&settings, "pwd", Some("escape"), 10.0, &Arc::default()).await;
        assert!(escaped.failure.as_deref().is_some_and(|f| f.contains("symbolic link")), "{escaped:?}");
        std::fs::remove_dir_all(&root).expect("clean up");
    }

    /// A fresh directory of this test's own under the temporary directory.
    fn tempfile_root() -> PathBuf {
        let root = std::env::temp_dir().join(format!("wfc-shell-test-{}", step_tag()));
        std::fs::create_dir_all(&root).expect("a test root");
        root
    }

    #[tokio::test]
    async fn processes_that_leave_the_group_are_killed_when_the_step_ends() {
        let marker = format!("wfc-setsid-{}", step_tag());
        // Detached from the group and the pipes: the command itself returns at once.
        let command = format!("setsid sh -c 'sleep 123; echo {marker}' >/dev/null 2>&1 < /dev/null &");
        let output = run(&settings(), &command, None, 10.0, &Arc::default()).await;
        assert_eq!(output.exit_code, Some(0), "{output:?}");
        assert_gone(&marker, "after the step").await;
        // And at a timeout.
        let output = run(&settings(), &format!("setsid sh -c 'sleep 124; echo {marker}' & sleep 30"), None, 0.3, &Arc::default()).await;
        assert!(output.failure.is_some());
        assert_gone(&marker, "after a timeout").await;
    }

    /// Fails unless no process whose command line holds `marker` is left within 2 s: a killed
    /// process is still listed for the moment it takes to exit (which a loaded machine
    /// stretches), but not for seconds, as one that went on would be (`sleep 123`).
    async fn assert_gone(marker: &str, when: &str) {
        let mut survivors = Vec::new();
        for _ in 0..40 {
            survivors = std::process::Command::new("pgrep").args(["-f", marker]).output().expect("pgrep").stdout;
            if survivors.is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("still running {when}: {}", String::from_utf8_lossy(&survivors));
    }
}
