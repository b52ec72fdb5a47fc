//! The interpreter back end: runs the ir directly — expressions for `wfc eval`, whole
//! workflows behind the runtime's `Machine` contract for dev mode — and is the oracle that
//! generated code is tested against.

mod expr;
mod machine;

pub use expr::{eval, render};
pub use machine::Interpreted;
