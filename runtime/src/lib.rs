//! The wfc runtime: JavaScript-semantics values today; the sans-IO `Machine` contract that
//! generated workflows implement, the engine that drives machines, and the MCP server as the
//! later stages land (see `docs/architecture.md`).
//!
//! ```
//! use wfc_runtime::value::{binary, BinaryOp, Value};
//! let sum = binary(BinaryOp::Add, &Value::string("5"), &Value::Number(1.0))?;
//! assert_eq!(sum.to_js_string(), "51");
//! # Ok::<(), wfc_runtime::value::EvalError>(())
//! ```
#![deny(unreachable_pub)]
#![warn(missing_docs)]

pub mod value;
pub mod catalog;
pub mod machine;
pub use serde_json;
#[cfg(feature = "server")]
pub mod engine;
#[cfg(feature = "server")]
pub mod mcp;
