//! The code generator back end: IR to Rust tokens (quote), formatted with prettyplease.
//! Generated code names the runtime only through `runtime` (by default `::wfc_runtime`), calls
//! the same value operations the interpreter calls, and uses native Rust operations where a
//! value's type is known at build time.

mod expr;
pub mod ident;

pub use expr::{expression_fn, static_type, StaticType};

/// Formats generated items as Rust source.
pub fn format(tokens: proc_macro2::TokenStream) -> Result<String, syn::Error> {
    Ok(prettyplease::unparse(&syn::parse2::<syn::File>(tokens)?))
}
