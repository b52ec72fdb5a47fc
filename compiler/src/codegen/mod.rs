//! The code generator back end: IR to Rust tokens (quote), formatted with prettyplease.
//! Generated code names the runtime only through `runtime` (by default `::wfc_runtime`), calls
//! the same value operations the interpreter calls, and uses native Rust operations where a
//! value's type is known at build time.

mod expr;
pub mod ident;
mod machine;

pub use expr::{StateTypes, expression_fn};
pub use machine::workflow_module;

/// A module name for a workflow: `dev:test-fix-loop` → `dev_test_fix_loop`.
pub fn module_name(workflow: &str) -> syn::Ident {
    let mut name: String = workflow.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    // `self`, `crate`, `type`, … cannot name a module; a raw identifier can, except `_`.
    syn::parse_str::<syn::Ident>(&name).unwrap_or_else(|_| quote::format_ident!("{name}_"))
}

/// A module name for a workflow that none of `taken` has (a second `a:b` beside `a_b` gets a
/// suffix); it is added to them.
pub fn unique_module_name(workflow: &str, taken: &mut Vec<String>) -> syn::Ident {
    let mut module = module_name(workflow);
    if taken.contains(&module.to_string()) {
        module = quote::format_ident!("{module}_{}", taken.len());
    }
    taken.push(module.to_string());
    module
}

/// The Rust module one workflow compiles to, formatted: what `build.rs` puts in a binary for it,
/// what `wfc expand` prints and what a catalog crate's snapshot test pins.
pub fn expand(workflow: &crate::ir::Workflow) -> Result<String, String> {
    let module = workflow_module(&module_name(&workflow.name), workflow, &quote::quote!(::wfc_runtime));
    format(module).map_err(|e| format!("generated code does not parse (a bug in wfc): {e}"))
}

/// Formats generated items as Rust source.
pub fn format(tokens: proc_macro2::TokenStream) -> Result<String, syn::Error> {
    Ok(prettyplease::unparse(&syn::parse2::<syn::File>(tokens)?))
}
