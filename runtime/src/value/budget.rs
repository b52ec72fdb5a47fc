//! The evaluation budget: how much work and memory one evaluation of an expression may take.
//!
//! An expression is small, but what it does can grow with its data or with its own constants:
//! `Array.from({length: 1e9})`, `'x'.repeat(1e7)` in a `map`, a regular expression that
//! backtracks exponentially. Every operation of the runtime whose cost grows with its input
//! charges this budget before it does the work: one *operation* per callback call, per array
//! item visited, per 64 bytes of text scanned and per regular-expression step; *bytes* for every
//! string or array it builds. When either runs out the evaluation fails with a `RangeError`
//! naming the limit, which a workflow handles like any other expression error (`on_error`,
//! `error_handling`), and the server goes on.
//!
//! The budget is per thread and armed by [`Evaluation::start`] around one evaluation (nested
//! starts share the outer one). Outside an armed evaluation nothing is counted, so the runtime's
//! own bookkeeping never fails for lack of budget. The limits are process-wide settings
//! ([`configure`]), set once from `wfc serve`'s flags.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use super::EvalError;

/// The limits of one evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most operations (callback calls, items visited, 64-byte blocks of text scanned,
    /// regular-expression steps).
    pub operations: u64,
    /// Most bytes of strings and arrays built.
    pub bytes: u64,
}

impl Limits {
    /// 20 million operations (tens of milliseconds of work) and 64 MiB: far beyond what a
    /// workflow's transform over thousands of items takes, far below what stalls a server.
    pub const DEFAULT: Limits = Limits { operations: 20_000_000, bytes: 64 * 1024 * 1024 };
}

static OPERATIONS: AtomicU64 = AtomicU64::new(Limits::DEFAULT.operations);
static BYTES: AtomicU64 = AtomicU64::new(Limits::DEFAULT.bytes);

/// Sets the limits every evaluation started from now on gets.
pub fn configure(limits: Limits) {
    OPERATIONS.store(limits.operations, Ordering::Relaxed);
    BYTES.store(limits.bytes, Ordering::Relaxed);
}

/// The limits in force.
pub fn limits() -> Limits {
    Limits { operations: OPERATIONS.load(Ordering::Relaxed), bytes: BYTES.load(Ordering::Relaxed) }
}

/// Which limit ran out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spent {
    Operations,
    Bytes,
}

impl Spent {
    fn error(self) -> EvalError {
        match self {
            Spent::Operations => operations_exhausted(),
            Spent::Bytes => bytes_exhausted(),
        }
    }
}

// What is left of the armed evaluation's budget on this thread: each limit in a cell of its
// own, so that a charge is one load, one compare and one store (generated loops charge per
// array, and per piece of a split text).
thread_local! {
    static OPERATIONS_LEFT: Cell<u64> = const { Cell::new(u64::MAX) };
    static BYTES_LEFT: Cell<u64> = const { Cell::new(u64::MAX) };
    /// How many [`Evaluation`]s are open on this thread (0: nothing is counted).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Which limit ran out, if one did: work that cannot fail on the spot (`String(array)`)
    /// stops early, and [`Evaluation::finish`] turns the evaluation into this error.
    static SPENT: Cell<Option<Spent>> = const { Cell::new(None) };
}

/// Sets what is left of both limits.
fn set_left(operations: u64, bytes: u64) {
    OPERATIONS_LEFT.with(|left| left.set(operations));
    BYTES_LEFT.with(|left| left.set(bytes));
}

/// An armed budget: evaluations on this thread are counted until it is dropped.
#[must_use = "the budget is disarmed when this is dropped"]
pub struct Evaluation(());

impl Evaluation {
    /// Arms the budget with the configured limits, or joins the evaluation already armed.
    pub fn start() -> Evaluation {
        Self::start_with(limits())
    }

    /// Arms the budget with `limits` (a nested start joins the outer evaluation instead).
    pub fn start_with(limits: Limits) -> Evaluation {
        let depth = DEPTH.with(|depth| depth.replace(depth.get() + 1));
        if depth == 0 {
            set_left(limits.operations, limits.bytes);
            SPENT.with(|spent| spent.set(None));
        }
        Evaluation(())
    }

    /// Ends the evaluation with its result: the budget's error instead if a limit ran out
    /// anywhere inside it, even where the work could not fail on the spot.
    pub fn finish<T>(self, result: Result<T, EvalError>) -> Result<T, EvalError> {
        let spent = SPENT.with(Cell::get);
        drop(self);
        match (spent, result) {
            // The error raised where the limit ran out says more (a regular expression).
            (Some(_), Err(error)) if error.kind == super::ErrorKind::LimitError => Err(error),
            (Some(spent), _) => Err(spent.error()),
            (None, result) => result,
        }
    }
}

impl Drop for Evaluation {
    fn drop(&mut self) {
        let depth = DEPTH.with(|depth| {
            depth.set(depth.get() - 1);
            depth.get()
        });
        if depth == 0 {
            set_left(u64::MAX, u64::MAX);
            SPENT.with(|spent| spent.set(None));
        }
    }
}

fn operations_exhausted() -> EvalError {
    EvalError::limit(format!(
        "the evaluation budget of {} operations is spent (raise it with --max-eval-operations)",
        OPERATIONS.load(Ordering::Relaxed)
    ))
}

fn bytes_exhausted() -> EvalError {
    EvalError::limit(format!(
        "the evaluation budget of {} bytes is spent (raise it with --max-eval-bytes)",
        BYTES.load(Ordering::Relaxed)
    ))
}

/// Records that `which` ran out and returns its error (the rare path, kept out of line).
#[cold]
#[inline(never)]
fn run_out(which: Spent) -> Result<(), EvalError> {
    match which {
        Spent::Operations => OPERATIONS_LEFT.with(|left| left.set(0)),
        Spent::Bytes => BYTES_LEFT.with(|left| left.set(0)),
    }
    SPENT.with(|spent| spent.set(Some(which)));
    Err(which.error())
}

/// Takes `n` from what is left of limit `which` (kept in `left`).
#[inline]
fn charge(left: &'static std::thread::LocalKey<Cell<u64>>, which: Spent, n: usize) -> Result<(), EvalError> {
    let taken = left.with(|left| match left.get().checked_sub(n as u64) {
        Some(rest) => {
            left.set(rest);
            true
        }
        None => false,
    });
    if taken { Ok(()) } else { run_out(which) }
}

/// Charges `n` operations.
#[inline]
pub fn charge_operations(n: usize) -> Result<(), EvalError> {
    charge(&OPERATIONS_LEFT, Spent::Operations, n)
}

/// Charges scanning `bytes` bytes of text (one operation per 64 bytes, at least one).
#[inline]
pub fn charge_scan(bytes: usize) -> Result<(), EvalError> {
    charge_operations(bytes / 64 + 1)
}

/// Charges building `n` bytes of strings or arrays.
#[inline]
pub fn charge_bytes(n: usize) -> Result<(), EvalError> {
    charge(&BYTES_LEFT, Spent::Bytes, n)
}

/// Charges building an array of `n` items.
#[inline]
pub fn charge_items(n: usize) -> Result<(), EvalError> {
    charge_bytes(n.saturating_mul(std::mem::size_of::<super::Value>()))
}

/// Runs a regular-expression match (`f`) within the operations left, and charges its steps.
pub(super) fn regex_steps<R>(f: impl FnOnce() -> R) -> Result<R, EvalError> {
    let left = OPERATIONS_LEFT.with(Cell::get);
    match regress::with_step_limit(left, f) {
        Ok((result, used)) => {
            charge_operations(usize::try_from(used).unwrap_or(usize::MAX))?;
            Ok(result)
        }
        Err(regress::StepLimitExceeded) => {
            let _ = run_out(Spent::Operations);
            Err(EvalError::limit(format!(
                "a regular expression took more than the evaluation budget of {} operations (it backtracks too much on this text; raise it with --max-eval-operations)",
                OPERATIONS.load(Ordering::Relaxed)
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_while_armed_and_joins_nested_evaluations() {
        assert!(charge_operations(usize::MAX / 2).is_ok(), "unarmed: nothing is counted");
        let outer = Evaluation::start_with(Limits { operations: 10, bytes: 100 });
        assert!(charge_operations(6).is_ok());
        {
            let _inner = Evaluation::start_with(Limits { operations: 1_000, bytes: 1_000 });
            assert!(charge_operations(4).is_ok(), "the inner evaluation shares the outer budget");
        }
        let error = charge_operations(1).expect_err("spent");
        assert!(error.message.contains("operations"), "{error}");
        assert!(charge_bytes(101).is_err());
        assert!(outer.finish(Ok(1)).is_err(), "a spent budget fails the evaluation");
        assert!(charge_bytes(usize::MAX / 2).is_ok(), "disarmed again");
    }
}
