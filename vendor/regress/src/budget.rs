//! A per-thread step budget for the classical backtracking matcher (wfc's addition).
//!
//! A backtracking matcher can take time exponential in the input on patterns such as
//! `(a+)+$`. [`with_step_limit`] runs matching with at most `limit` steps (one step is one
//! instruction executed or one backtrack taken); once they are spent, every match attempt
//! fails at once, and the call reports that the limit was reached, so the caller discards
//! whatever the matcher returned and reports an error instead of a wrong answer.

use core::cell::Cell;

std::thread_local! {
    /// Steps left; `u64::MAX` outside [`with_step_limit`] (unbounded, as upstream regress).
    static STEPS_LEFT: Cell<u64> = const { Cell::new(u64::MAX) };
    /// Whether the running [`with_step_limit`] call ran out.
    static EXHAUSTED: Cell<bool> = const { Cell::new(false) };
}

/// The step limit was reached: the matcher's answer is not to be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepLimitExceeded;

/// Runs `f` (which matches with this thread's regexes) with at most `limit` matcher steps.
/// Returns its result and the steps used, or [`StepLimitExceeded`].
pub fn with_step_limit<R>(limit: u64, f: impl FnOnce() -> R) -> Result<(R, u64), StepLimitExceeded> {
    let outer_left = STEPS_LEFT.with(|s| s.replace(limit));
    let outer_exhausted = EXHAUSTED.with(|e| e.replace(false));
    let result = f();
    let left = STEPS_LEFT.with(|s| s.replace(outer_left));
    let exhausted = EXHAUSTED.with(|e| e.replace(outer_exhausted));
    if exhausted { Err(StepLimitExceeded) } else { Ok((result, limit - left)) }
}

/// Takes one step; `false` once the budget is spent (and from then on).
#[inline(always)]
pub(crate) fn step() -> bool {
    STEPS_LEFT.with(|s| match s.get() {
        0 => {
            EXHAUSTED.with(|e| e.set(true));
            false
        }
        n => {
            s.set(n - 1);
            true
        }
    })
}
