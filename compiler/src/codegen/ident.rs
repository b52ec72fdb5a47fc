//! Every hidden name generated code uses, spelled in one place. All start with `__wfc_` so they
//! cannot collide with names a workflow chooses.

use proc_macro2::{Ident, Span};

/// A hidden identifier `__wfc_<name>`.
pub fn hidden(name: &str) -> Ident {
    Ident::new(&format!("__wfc_{name}"), Span::call_site())
}

/// A hidden static `__WFC_<NAME>` (statics are upper case).
pub fn hidden_static(name: &str) -> Ident {
    Ident::new(&format!("__WFC_{}", name.to_uppercase()), Span::call_site())
}
