//! A program's typed state and server-side steps as Rust: `State` and `Inputs` structs holding
//! its declared `number`, `string` and `boolean` fields as [`Slot`]s, and `steps`, a
//! `loop { match pc { … } }` over the operations that need no client — conditionals, `while_loop`
//! tests, loop frames, jumps and `workflow_state_update` writes of typed fields — reading and
//! writing those fields natively. The runtime calls `steps` wherever the machine stands; an
//! operation it does not run (a client step, an effect, a `foreach`, a write the structs do not
//! hold, anything that refreshes a computed field) returns to the shared executor, after the
//! typed fields are stored back into the state tiers.
//!
//! [`Slot`]: wfc_runtime::machine::native::Slot

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use wfc_runtime::machine::FieldType;
use wfc_runtime::machine::update::Operation;

use super::Emitter;
use super::super::expr::{Returns, TypedField, TypedFields, typed_fn};
use super::super::ident::hidden;
use crate::expr::ir::{Expr, Name, Root};
use crate::expr::{Compiled, CompiledTemplate};
use crate::ir::{IrExpr, LoopKind, Op, Program, Segment, Template, Update, UpdateValue, WriteTier};

/// A declared field the typed structs hold.
struct Declared {
    name: String,
    ident: syn::Ident,
    rust_type: TokenStream,
    number: bool,
}

/// How a natively run operation evaluates one of its expressions.
enum Evaluation {
    /// With the program's expression function (`super::x3`) against the scope: it reads no
    /// typed field.
    Plain(syn::Ident),
    /// With a function of this module (`t0`) that reads the typed fields in place.
    Typed(syn::Ident),
}


/// What generating one program's native steps needs.
struct Steps<'a> {
    program: &'a Program<IrExpr>,
    state: Vec<Declared>,
    inputs: Vec<Declared>,
    typed: TypedFields,
    /// The typed functions emitted so far, with what they evaluate and for what.
    functions: Vec<(IrExpr, Returns, syn::Ident, TokenStream)>,
}

impl Emitter {
    /// `pub mod <module> { State, Inputs, steps, … }` for `program`, or `None` when none of its
    /// operations runs natively.
    pub(super) fn native(&mut self, program: &Program<IrExpr>, module: &syn::Ident) -> Option<TokenStream> {
        let overlaid = |name: &str| program.computed.iter().any(|c| c.name == name);
        let state = declared(program.state.iter().filter(|f| !overlaid(&f.name)).map(|f| (f.name.as_str(), f.field_type)));
        let inputs = declared(program.inputs.iter().map(|i| (i.name.as_str(), i.field_type)));
        let (state_param, inputs_param) = (hidden("state"), hidden("inputs"));
        let place = |param: &syn::Ident, root: &str, field: &Declared| TypedField {
            root: root.to_owned(),
            field: field.name.clone(),
            place: {
                let ident = &field.ident;
                quote!(#param.#ident)
            },
            number: field.number,
        };
        let fields = state
            .iter()
            .flat_map(|f| [place(&state_param, "this", f), place(&state_param, "state", f)])
            .chain(inputs.iter().map(|f| place(&inputs_param, "inputs", f)))
            .collect();
        let typed = TypedFields { fields, params: quote!(#state_param: &State, #inputs_param: &Inputs) };
        let mut steps = Steps { program, state, inputs, typed, functions: Vec::new() };
        let arms: Vec<(u32, TokenStream)> = (0..)
            .zip(&program.ops)
            .filter_map(|(pc, op)| Some((pc, self.native_op(&mut steps, op, pc)?)))
            .collect();
        if arms.is_empty() {
            return None;
        }
        Some(steps.module(&self.rt, module, &arms))
    }

    /// What running `op` at `pc` natively does, if it can.
    fn native_op(&mut self, steps: &mut Steps, op: &Op<IrExpr>, pc: u32) -> Option<TokenStream> {
        let run = hidden("run");
        let loops_refresh = !steps.program.refresh.loops.is_empty();
        let body = match op {
            Op::Branch { step, condition, otherwise } => {
                let condition = self.condition(steps, condition)?;
                quote!(#run.branch(#step, #otherwise, #condition)?;)
            }
            Op::LoopStart { depth, kind: LoopKind::While { .. }, .. } => quote!(#run.open_loop(#depth);),
            Op::LoopNext { step, depth, kind: LoopKind::While { condition, max_iterations, fail_at_limit }, exit } if !loops_refresh => {
                let condition = self.condition(steps, condition)?;
                quote! {
                    if let ::core::option::Option::Some(yielded) = #run.while_next(#step, #depth, #max_iterations, #fail_at_limit, #exit, #condition)? {
                        return ::core::result::Result::Ok(::core::option::Option::Some(yielded));
                    }
                }
            }
            Op::LoopEnd { depth } if !loops_refresh => quote!(#run.close_loop(#depth)?;),
            Op::Jump { to, .. } => quote!(#run.go(#to);),
            Op::Write { step, updates } => self.native_write(steps, step, updates, pc)?,
            _ => return None,
        };
        Some(body)
    }

    /// A closure evaluating `condition` for the runtime's `branch`/`while_next`.
    fn condition(&mut self, steps: &mut Steps, condition: &IrExpr) -> Option<TokenStream> {
        let (rt, state, inputs, scope) = (&self.rt, hidden("state"), hidden("inputs"), hidden("scope"));
        let closure = quote!(|#scope: &dyn #rt::value::Scope|);
        Some(match self.evaluation(steps, condition, Returns::Truthiness)? {
            Evaluation::Plain(function) => quote!(#closure super::#function(#scope).map(|value| value.truthy())),
            Evaluation::Typed(function) => quote!(#closure #function(#scope, &*#state, #inputs)),
        })
    }

    /// How `x` is evaluated natively, if it can be: an expression that reads typed fields only
    /// as `root.field` reads them in place; one that reads none of them (nor the whole `this`)
    /// runs as the executor would run it.
    fn evaluation(&mut self, steps: &mut Steps, x: &IrExpr, returns: Returns) -> Option<Evaluation> {
        let mut reads = BTreeSet::new();
        x.reads(&mut reads);
        let typed_read = |read: &String| read == "this" || steps.state.iter().any(|f| read.strip_prefix("this.") == Some(&f.name));
        if !reads.iter().any(typed_read) {
            return Some(Evaluation::Plain(self.expr_function(x)));
        }
        let compiled = match x {
            // A bare expression, or a template that is one `{{ }}` (which keeps its value's type).
            IrExpr::Expr(compiled)
            | IrExpr::Template(CompiledTemplate::Value(compiled))
            | IrExpr::Value(Template::Text(CompiledTemplate::Value(compiled)))
                if reads_state_by_field(&compiled.expr) =>
            {
                compiled
            }
            _ => return None,
        };
        Some(Evaluation::Typed(steps.function(x, returns, compiled, &self.rt, &self.types)))
    }

    /// A `workflow_state_update` whose updates all set, add to, subtract from or multiply a
    /// typed state field that no computed field reads: each value evaluated against the state
    /// before the step, combined in order, and nothing assigned unless every one succeeded.
    fn native_write(&mut self, steps: &mut Steps, step: &str, updates: &[Update<IrExpr>], pc: u32) -> Option<TokenStream> {
        let rt = self.rt.clone();
        let (run, state, inputs) = (hidden("run"), hidden("state"), hidden("inputs"));
        // Indices into `steps.state`, in the order the step first writes them.
        let mut written: Vec<usize> = Vec::new();
        let mut combine = Vec::new();
        for update in updates {
            let [Segment::Field(name)] = update.path.segments.as_slice() else { return None };
            let index = steps.state.iter().position(|f| *f.name == **name)?;
            let combines = matches!(update.operation, Operation::Set | Operation::Increment | Operation::Decrement | Operation::Multiply);
            if update.path.tier != WriteTier::State || !combines || !steps.program.refresh.after_state(name).is_empty() {
                return None;
            }
            let value = match &update.value {
                None => quote!(#rt::value::Value::Undefined),
                Some(UpdateValue::Value(x)) => {
                    let call = match self.evaluation(steps, x, Returns::Value)? {
                        Evaluation::Plain(function) => quote!(super::#function(&#run.scope())),
                        Evaluation::Typed(function) => quote!(#function(&#run.scope(), &*#state, #inputs)),
                    };
                    quote!(#call.map_err(|e| #run.fail(#step, e.to_string()))?)
                }
                Some(UpdateValue::Result(_)) => return None,
            };
            let field = &steps.state[index];
            let (new, text, path) = (new_value(field), &update.path.text, format!("this.{}", field.name));
            let operation = super::variant(&quote!(#rt::machine::update::Operation), update.operation);
            combine.push(quote! {
                #new = #new.write(#operation, #value, #text, #path).map_err(|cause| #run.fail(#step, cause))?;
            });
            if !written.contains(&index) {
                written.push(index);
            }
        }
        let written: Vec<&Declared> = written.into_iter().map(|index| &steps.state[index]).collect();
        let starts = written.iter().map(|field| {
            let (new, ident) = (new_value(field), &field.ident);
            quote!(let mut #new = #state.#ident.clone();)
        });
        let assigns = written.iter().map(|field| {
            let (new, ident, name) = (new_value(field), &field.ident, &field.name);
            quote! {
                // A field written for the first time takes its place in the tier now, as the
                // executor's write would: the tier's order is the order fields were created in.
                if #state.#ident.is_unset() {
                    #run.set(#name, #new.value());
                }
                if #run.tracing() {
                    #run.wrote(#step, #name, &#state.#ident.value(), &#new.value());
                }
                #state.#ident = #new;
            }
        });
        let next = pc + 1;
        Some(quote! {
            #(#starts)*
            #(#combine)*
            #(#assigns)*
            #run.go(#next);
        })
    }
}

impl Steps<'_> {
    /// The typed function evaluating `x` (`compiled`) for `returns`, emitted the first time.
    fn function(&mut self, x: &IrExpr, returns: Returns, compiled: &Compiled, rt: &TokenStream, types: &super::StateTypes) -> syn::Ident {
        if let Some((.., name, _)) = self.functions.iter().find(|(seen, used, ..)| seen == x && *used == returns) {
            return name.clone();
        }
        let name = format_ident!("t{}", self.functions.len());
        let function = typed_fn(&name, compiled, rt, types, &self.typed, returns);
        self.functions.push((x.clone(), returns, name.clone(), function));
        name
    }

    /// The program's module: its typed structs, typed functions and `steps`.
    fn module(&self, rt: &TokenStream, module: &syn::Ident, arms: &[(u32, TokenStream)]) -> TokenStream {
        let p = quote!(#rt::machine::program);
        let (run, state, inputs, loaded) = (hidden("run"), hidden("state"), hidden("inputs"), hidden("loaded"));
        let struct_fields = |fields: &[Declared]| -> Vec<TokenStream> {
            fields
                .iter()
                .map(|f| {
                    let (ident, rust_type, doc) = (&f.ident, &f.rust_type, format!(" `{}`.", f.name));
                    quote!(#[doc = #doc] pub #ident: #rt::machine::native::Slot<#rust_type>)
                })
                .collect()
        };
        let loads = |fields: &[Declared], tier: TokenStream, root: &str| -> Vec<TokenStream> {
            fields
                .iter()
                .map(|f| {
                    let (ident, name) = (&f.ident, &f.name);
                    quote!(#ident: #rt::machine::native::Slot::load(&#run.state().#tier, #root, #name)?)
                })
                .collect()
        };
        let (state_fields, input_fields) = (struct_fields(&self.state), struct_fields(&self.inputs));
        let (state_loads, input_loads) = (loads(&self.state, quote!(state), "this"), loads(&self.inputs, quote!(inputs), "inputs"));
        let stores = self.state.iter().map(|f| {
            let (ident, name) = (&f.ident, &f.name);
            quote!(if self.#ident != #loaded.#ident { #run.set(#name, self.#ident.value()); })
        });
        let functions = self.functions.iter().map(|(.., function)| function);
        let pcs: Vec<u32> = arms.iter().map(|(pc, _)| *pc).collect();
        let arms = arms.iter().map(|(pc, body)| quote!(#pc => { #run.tick()?; #body }));
        let doc = format!(" `{}`'s typed state and server-side steps.", self.program.name);
        quote! {
            #[doc = #doc]
            #[allow(non_snake_case, clippy::all)]
            pub mod #module {
                /// The declared `this.*` fields of a type the machine holds natively.
                #[derive(Clone, Debug, Default, PartialEq)]
                pub struct State { #(#state_fields,)* }

                /// The declared inputs of a type the machine holds natively.
                #[derive(Clone, Debug, Default, PartialEq)]
                pub struct Inputs { #(#input_fields,)* }

                impl State {
                    fn load(#run: &#rt::machine::Run<'_, #p::ExprFn>) -> ::core::result::Result<State, ::std::string::String> {
                        ::core::result::Result::Ok(State { #(#state_loads,)* })
                    }

                    /// Stores the fields changed since `loaded` into the state tier.
                    fn store(&self, #loaded: &State, #run: &mut #rt::machine::Run<'_, #p::ExprFn>) {
                        #(#stores)*
                    }
                }

                impl Inputs {
                    fn load(#run: &#rt::machine::Run<'_, #p::ExprFn>) -> ::core::result::Result<Inputs, ::std::string::String> {
                        ::core::result::Result::Ok(Inputs { #(#input_loads,)* })
                    }
                }

                #(#functions)*

                /// Runs server-side operations from where the machine stands until one that is
                /// left to the executor.
                pub fn steps(#run: &mut #rt::machine::Run<'_, #p::ExprFn>) -> ::core::result::Result<::core::option::Option<#rt::machine::Yield>, #rt::machine::StepError> {
                    if !matches!(#run.pc(), #(#pcs)|*) {
                        return ::core::result::Result::Ok(::core::option::Option::None);
                    }
                    let #inputs = Inputs::load(#run).map_err(|cause| #run.fail("", cause))?;
                    let #loaded = State::load(#run).map_err(|cause| #run.fail("", cause))?;
                    let mut #state = #loaded.clone();
                    let outcome = operations(#run, &mut #state, &#inputs);
                    #state.store(&#loaded, #run);
                    outcome
                }

                fn operations(
                    #run: &mut #rt::machine::Run<'_, #p::ExprFn>,
                    #state: &mut State,
                    #inputs: &Inputs,
                ) -> ::core::result::Result<::core::option::Option<#rt::machine::Yield>, #rt::machine::StepError> {
                    loop {
                        match #run.pc() {
                            #(#arms)*
                            _ => return ::core::result::Result::Ok(::core::option::Option::None),
                        }
                    }
                }
            }
        }
    }
}

/// The local holding a written field's new value until every update of the step succeeded.
fn new_value(field: &Declared) -> syn::Ident {
    hidden(&format!("new_{}", field.ident))
}

/// The fields of a type the structs hold, with Rust names (a name that is not an identifier is
/// made one; a clash gets a suffix).
fn declared<'a>(fields: impl Iterator<Item = (&'a str, Option<FieldType>)>) -> Vec<Declared> {
    let mut declared: Vec<Declared> = Vec::new();
    for (name, field_type) in fields {
        let rust_type = match field_type {
            Some(FieldType::Number) => quote!(f64),
            Some(FieldType::Boolean) => quote!(bool),
            Some(FieldType::String) => quote!(::std::sync::Arc<str>),
            _ => continue,
        };
        let mut ident: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
        if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
            ident.insert(0, '_');
        }
        while declared.iter().any(|d| d.ident == ident) {
            ident.push('_');
        }
        // A keyword (`type`, `self`) cannot name a field.
        let ident = syn::parse_str::<syn::Ident>(&ident).unwrap_or_else(|_| format_ident!("{ident}_"));
        declared.push(Declared { name: name.to_owned(), ident, rust_type, number: field_type == Some(FieldType::Number) });
    }
    declared
}

/// Whether every read of `this`/`state` in `e` is a plain `root.field` (no optional link, no
/// computed key, no whole root): the reads the typed functions answer from the structs.
fn reads_state_by_field(e: &Expr) -> bool {
    let state_root = |e: &Expr| matches!(e, Expr::Name(Name::Root(Root::This | Root::State)));
    let mut by_field = true;
    e.walk(&mut |e| match e {
        Expr::Member { object, property, optional: false } if state_root(object) && matches!(**property, Expr::String(_)) => false,
        Expr::Member { optional: true, .. } | Expr::MethodCall { optional: true, .. } => {
            by_field = false;
            false
        }
        e if state_root(e) => {
            by_field = false;
            false
        }
        _ => true,
    });
    by_field
}
