//! The interpreter back end: runs the IR directly (for `wfc eval`, dev mode and as the oracle
//! that generated code is tested against). Today it evaluates expressions; the state-machine
//! interpreter joins it with the `ir` stage.

mod expr;

pub use expr::{eval, render};
