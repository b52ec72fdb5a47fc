//! A program's typed state and server-side steps as Rust: `State` and `Inputs` structs holding
//! its declared `number`, `string` and `boolean` fields as [`Slot`]s, a `Computed` struct holding
//! its computed values, and `steps`, a `loop { match pc { … } }` over the operations that need
//! no client — conditionals, loop tests and frames, jumps and `workflow_state_update` writes of
//! typed fields with the computed fields they refresh — reading and writing those fields
//! natively — and `results`, the client steps' reports it applies natively (an `mcp_call`'s
//! `state_update` of a typed field, a report that writes nothing). The structs serialize with
//! serde as the state holds them. The runtime calls `steps` wherever the machine stands, with
//! the report it waits on; an operation or report it does not handle (handing a client step
//! out, an effect, a write the structs do not hold, a write that fails) returns to the shared
//! executor, after the typed fields are stored back into the state tiers.
//!
//! [`Slot`]: wfc_runtime::machine::native::Slot

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote};
use wfc_runtime::machine::FieldType;
use wfc_runtime::machine::update::Operation;

use super::super::expr::{Returns, SourcedInput, TypedField, TypedFields, typed_fn};
use super::super::ident::hidden;
use super::{Emitter, variant};
use crate::expr::ir::{Expr, Name, Root};
use crate::expr::{Compiled, CompiledTemplate};
use crate::ir::{Handling, IrExpr, LoopKind, OnError, Op, Program, Segment, Source, SourceTier, Template, Update, UpdateValue, WriteTier};

/// A field one of the typed structs holds, with its Rust name.
struct Declared {
    name: String,
    ident: syn::Ident,
    /// The `Slot`'s type (`f64`, `bool`, `Arc<str>`); `None` for a computed value.
    rust_type: Option<TokenStream>,
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
    computed: Vec<Declared>,
    inputs: Vec<Declared>,
    typed: TypedFields,
    /// The typed functions emitted so far, with what they evaluate and for what.
    functions: Vec<(IrExpr, Returns, syn::Ident, TokenStream)>,
    /// The computed fields whose transform reads its sources in place (`c<index>`), emitted.
    transforms: Vec<(usize, TokenStream)>,
}

/// The hidden names of the generated steps' locals and parameters.
struct Names {
    run: syn::Ident,
    state: syn::Ident,
    computed: syn::Ident,
    inputs: syn::Ident,
    refreshed: syn::Ident,
}

impl Names {
    fn new() -> Names {
        Names { run: hidden("run"), state: hidden("state"), computed: hidden("computed"), inputs: hidden("inputs"), refreshed: hidden("refreshed") }
    }
}

impl Emitter {
    /// `pub mod <module> { State, Computed, Inputs, steps, … }` for `program`: every program
    /// gets its typed structs, whether or not any of its operations runs natively.
    pub(super) fn native(&mut self, program: &Program<IrExpr>, module: &syn::Ident) -> TokenStream {
        let overlaid = |name: &str| program.computed.iter().any(|c| c.name == name);
        let state = declared(program.state.iter().filter(|f| !overlaid(&f.name)).filter_map(|f| slot(&f.name, f.field_type)));
        let inputs = declared(program.inputs.iter().filter_map(|i| slot(&i.name, i.field_type)));
        let computed = declared(program.computed.iter().map(|c| (c.name.as_str(), None, false)));
        let Names { state: state_param, computed: computed_param, inputs: inputs_param, .. } = Names::new();
        let scope = hidden("scope");
        let slot_read = |param: &syn::Ident, root: &str, field: &Declared| {
            let ident = &field.ident;
            TypedField {
                root: root.to_owned(),
                field: field.name.clone(),
                read: quote!(#param.#ident.value()),
                number: field.number.then(|| quote!(#param.#ident.number())),
            }
        };
        // `this.x` of a computed field that `on_error: ignore` removed reads the state field.
        let computed_read = |root: &str, field: &Declared| {
            let (ident, name) = (&field.ident, &field.name);
            let read = match root {
                "this" => quote!(match &#computed_param.#ident {
                    ::core::option::Option::Some(value) => value.clone(),
                    ::core::option::Option::None => #scope.field("state", #name)?,
                }),
                _ => quote!(#computed_param.#ident.clone().unwrap_or_default()),
            };
            TypedField { root: root.to_owned(), field: field.name.clone(), read, number: None }
        };
        let fields = state
            .iter()
            .flat_map(|f| [slot_read(&state_param, "this", f), slot_read(&state_param, "state", f)])
            .chain(computed.iter().flat_map(|f| [computed_read("this", f), computed_read("computed", f)]))
            .chain(inputs.iter().map(|f| slot_read(&inputs_param, "inputs", f)))
            .collect();
        let params = quote!(#state_param: &State, #computed_param: &Computed, #inputs_param: &Inputs);
        let typed = TypedFields { fields, params, input: None };
        let mut steps = Steps { program, state, computed, inputs, typed, functions: Vec::new(), transforms: Vec::new() };
        let arms: Vec<(u32, TokenStream)> = (0..).zip(&program.ops).filter_map(|(pc, op)| Some((pc, self.native_op(&mut steps, op, pc)?))).collect();
        let results: Vec<(u32, Outcome)> = (0..).zip(&program.ops).filter_map(|(pc, op)| Some((pc, self.native_result(&mut steps, op, pc)?))).collect();
        // Reports that write nothing are taken natively only to go on without the executor; a
        // program with nothing else to run natively still gets its typed structs, and a `steps`
        // that leaves every operation to the executor.
        let results: Vec<(u32, TokenStream)> =
            if arms.is_empty() && !results.iter().any(|(_, outcome)| outcome.writes) { Vec::new() } else { results.into_iter().map(|(pc, outcome)| (pc, outcome.body)).collect() };
        steps.module(&self.rt, module, &arms, &results)
    }

    /// What running `op` at `pc` natively does, if it can.
    fn native_op(&mut self, steps: &mut Steps, op: &Op<IrExpr>, pc: u32) -> Option<TokenStream> {
        let run = hidden("run");
        // The executor refreshes the computed fields that read `loop` from the tiers, which
        // are behind the typed structs while the steps run.
        let loops_refresh = !steps.program.refresh.loops.is_empty();
        let body = match op {
            Op::Branch { step, condition, otherwise } => {
                let condition = self.condition(steps, condition)?;
                quote!(#run.branch(#step, #otherwise, #condition)?;)
            }
            Op::LoopStart { depth, kind: LoopKind::While { .. }, .. } => quote!(#run.open_loop(#depth);),
            Op::LoopStart { step, depth, kind: LoopKind::Foreach { items, variable_name, index_name } } => {
                let (items, evaluated) = (self.value(steps, items, &Reads::State)?, hidden("items"));
                quote! {
                    let #evaluated = #items;
                    #run.open_foreach(#step, #depth, #evaluated, #variable_name, #index_name)?;
                }
            }
            Op::LoopNext { step, depth, kind: LoopKind::Foreach { .. }, exit } if !loops_refresh => quote!(#run.foreach_next(#step, #depth, #exit)?;),
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
            Op::Write { step, updates } => {
                let write = self.native_write(steps, step, updates, &Reads::State)?;
                let next = pc + 1;
                quote!(#write #run.go(#next);)
            }
            _ => return None,
        };
        Some(body)
    }

    /// What applying the report of the client step `op` at `pc` does natively, if it can: an
    /// `mcp_call` whose `state_update` writes a typed field as [`Emitter::native_write`] does,
    /// its value reading the tool's result; a step whose report writes nothing. The arm fails
    /// (and leaves the report to the executor) if the write does.
    fn native_result(&mut self, steps: &mut Steps, op: &Op<IrExpr>, pc: u32) -> Option<Outcome> {
        let Op::Client(client) = op else { return None };
        let run = hidden("run");
        let next = pc + 1;
        match &client.handling {
            Handling::Nothing => Some(Outcome { body: quote!(#run.go(#next);), writes: false }),
            Handling::ToolResult { store: None, updates, .. } if !updates.is_empty() => {
                let write = self.native_write(steps, &client.step, updates, &Reads::ToolResult)?;
                Some(Outcome { body: quote!(#write #run.go(#next);), writes: true })
            }
            _ => None,
        }
    }

    /// A closure evaluating `condition` for the runtime's `branch`/`while_next`.
    fn condition(&mut self, steps: &mut Steps, condition: &IrExpr) -> Option<TokenStream> {
        let Names { state, computed, inputs, .. } = Names::new();
        let (rt, scope) = (&self.rt, hidden("scope"));
        let closure = quote!(|#scope: &dyn #rt::value::Scope|);
        Some(match self.evaluation(steps, condition, Returns::Truthiness)? {
            Evaluation::Plain(function) => quote!(#closure super::#function(#scope).map(|value| value.truthy())),
            Evaluation::Typed(function) => quote!(#closure #function(#scope, &*#state, &*#computed, #inputs)),
        })
    }

    /// `x`'s value, a `Result<Value, EvalError>` against the state as it stands and what else
    /// `reads` names.
    fn value(&mut self, steps: &mut Steps, x: &IrExpr, reads: &Reads) -> Option<TokenStream> {
        let Names { state, computed, inputs, .. } = Names::new();
        let scope = reads.scope();
        Some(match self.evaluation(steps, x, Returns::Value)? {
            Evaluation::Plain(function) => quote!(super::#function(&#scope)),
            Evaluation::Typed(function) => quote!(#function(&#scope, &*#state, &*#computed, #inputs)),
        })
    }

    /// How `x` is evaluated natively, if it can be: an expression that reads typed fields only
    /// as `root.field` reads them in place; one that reads none of them (nor the whole `this`)
    /// runs as the executor would run it.
    fn evaluation(&mut self, steps: &mut Steps, x: &IrExpr, returns: Returns) -> Option<Evaluation> {
        let mut reads = BTreeSet::new();
        x.reads(&mut reads);
        let held = |name: &str| steps.state.iter().chain(&steps.computed).any(|f| f.name == name);
        let typed_read = |read: &String| read == "this" || read.strip_prefix("this.").is_some_and(held);
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

    /// Updates that all set, add to, subtract from or multiply a typed state field: each value
    /// evaluated against the state before the step (and what else `reads` names), combined in
    /// order, the computed fields that read them recomputed, and nothing assigned unless every
    /// one succeeded.
    fn native_write(&mut self, steps: &mut Steps, step: &str, updates: &[Update<IrExpr>], reads: &Reads) -> Option<TokenStream> {
        let rt = self.rt.clone();
        let Names { run, state, computed, refreshed, .. } = Names::new();
        // Indices into `steps.state`, in the order the step first writes them.
        let mut written: Vec<usize> = Vec::new();
        let mut combine = Vec::new();
        for update in updates {
            let [Segment::Field(name)] = update.path.segments.as_slice() else { return None };
            let index = steps.state.iter().position(|f| *f.name == **name)?;
            let combines = matches!(update.operation, Operation::Set | Operation::Increment | Operation::Decrement | Operation::Multiply);
            if update.path.tier != WriteTier::State || !combines {
                return None;
            }
            let value = match &update.value {
                None => quote!(#rt::value::Value::Undefined),
                Some(UpdateValue::Value(x)) => {
                    let value = self.value(steps, x, reads)?;
                    quote!(#value.map_err(|e| #run.fail(#step, e.to_string()))?)
                }
                Some(UpdateValue::Result(path)) => reads.result(path)?,
            };
            let field = &steps.state[index];
            let (new, text, path) = (new_value(field), &update.path.text, format!("this.{}", field.name));
            let operation = variant(&quote!(#rt::machine::update::Operation), update.operation);
            combine.push(quote! {
                #new = #new.write(#operation, #value, #text, #path).map_err(|cause| #run.fail(#step, cause))?;
            });
            if !written.contains(&index) {
                written.push(index);
            }
        }
        // The executor's plan: every computed field that reads a written field, in dependency
        // order, each once.
        let mut plan: Vec<usize> = written.iter().flat_map(|&w| steps.program.refresh.after_state(&steps.state[w].name).iter().copied()).collect();
        plan.sort_unstable();
        plan.dedup();
        let types = self.types.clone();
        let refresh = plan.iter().map(|&index| steps.recompute(&rt, &types, step, index, &plan, &written)).collect::<Option<Vec<_>>>()?;
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
        let computed_assigns = plan.iter().map(|&index| {
            let ident = &steps.computed[index].ident;
            let new = new_value(&steps.computed[index]);
            quote!(#computed.#ident = #new; #run.refreshed(#index);)
        });
        let mark = (!plan.is_empty()).then(|| quote!(*#refreshed = true;));
        Some(quote! {
            #(#starts)*
            #(#combine)*
            #(#refresh)*
            #(#assigns)*
            #(#computed_assigns)*
            #mark
        })
    }
}

/// What a natively run write's values read besides the typed fields.
enum Reads {
    /// The state tiers, `loop` and a task's names (a `workflow_state_update`).
    State,
    /// Those and an `mcp_call`'s tool result (`result`, its fields by bare name), which the
    /// generated code holds in a local.
    ToolResult,
}

impl Reads {
    /// The scope expressions are evaluated against.
    fn scope(&self) -> TokenStream {
        let run = hidden("run");
        match self {
            Reads::State => quote!(#run.scope()),
            Reads::ToolResult => {
                let result = hidden("result");
                quote!(#run.tool_scope(#result))
            }
        }
    }

    /// A bare result path's value, if there is a result.
    fn result(&self, path: &[String]) -> Option<TokenStream> {
        let (run, result) = (hidden("run"), hidden("result"));
        match self {
            Reads::State => None,
            Reads::ToolResult => Some(quote!(#run.tool_result(#result, &[#(#path),*]))),
        }
    }
}

/// A client step's report applied natively: its arm, and whether it writes.
struct Outcome {
    body: TokenStream,
    writes: bool,
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

    /// `let new_<field> = …;`: computed field `index` recomputed for a write of `step` into a
    /// local, from its sources as they stand after the write (`written` fields and the computed
    /// fields before it in `plan` read their new values; `written` indexes the state fields),
    /// if it can be: every source a path,
    /// and a transform error that does not remove the field.
    fn recompute(&mut self, rt: &TokenStream, types: &super::StateTypes, step: &str, index: usize, plan: &[usize], written: &[usize]) -> Option<TokenStream> {
        let Names { run, state, computed, inputs, .. } = Names::new();
        let field = &self.program.computed[index];
        if field.on_error == OnError::Ignore {
            return None;
        }
        let sources = field
            .from
            .iter()
            .map(|source| {
                let Source::Path { tier, path } = source else { return None };
                // A whole `global`/`loop` tier has no first field; it is read from the tiers.
                let (first, rest) = path.split_first().map_or(("", &[][..]), |(first, rest)| (first.as_str(), rest));
                let root = match tier {
                    SourceTier::State if let Some(f) = held(&self.state, first) => {
                        let place = if written.iter().any(|&w| self.state[w].name == f.name) { new_value(f).into_token_stream() } else { typed_place(&state, f) };
                        quote!(#place.value())
                    }
                    SourceTier::Computed if let Some(f) = held(&self.computed, first) => {
                        let earlier = self.program.computed.iter().position(|c| c.name == f.name).is_some_and(|i| plan.contains(&i) && i < index);
                        let place = if earlier { new_value(f).into_token_stream() } else { typed_place(&computed, f) };
                        quote!(#place.clone().unwrap_or_default())
                    }
                    SourceTier::Inputs if let Some(f) = held(&self.inputs, first) => {
                        let place = typed_place(&inputs, f);
                        quote!(#place.value())
                    }
                    // Fields the structs do not hold, `global` and `loop` are current in the tiers.
                    _ => {
                        let tier = variant(&quote!(#rt::machine::program::SourceTier), *tier);
                        return Some(quote!(#run.read(#tier, &[#(#path),*])));
                    }
                };
                Some(if rest.is_empty() { root } else { quote!(#rt::machine::below(#root, &[#(#rest),*])) })
            })
            .collect::<Option<Vec<_>>>()?;
        let new = new_value(&self.computed[index]);
        Some(match self.transform(rt, types, index, sources.len()) {
            Some(transform) => quote! {
                let #new = #run.settle(#step, #index, #transform(&#rt::value::MapScope::default(), &[#(#sources),*]))?;
            },
            None => quote!(let #new = #run.compute(#step, #index, ::std::vec![#(#sources),*])?;),
        })
    }

    /// `c<index>`, computed field `index`'s transform over its `sources` sources in place
    /// (no array built for `input`), emitted the first time, if it reads `input` only as
    /// `input[k]` (a list `from`) or as the whole value (a single one).
    fn transform(&mut self, rt: &TokenStream, types: &super::StateTypes, index: usize, sources: usize) -> Option<syn::Ident> {
        let field = &self.program.computed[index];
        let name = format_ident!("c{index}");
        if self.transforms.iter().any(|(emitted, _)| *emitted == index) {
            return Some(name);
        }
        let IrExpr::Expr(compiled) = &field.transform else { return None };
        if !reads_input_in_place(&compiled.expr, field.from_is_list) {
            return None;
        }
        let input = hidden("input");
        let sourced = TypedFields {
            fields: Vec::new(),
            params: quote!(#input: &[#rt::value::Value]),
            input: Some(SourcedInput { place: quote!(#input), list: field.from_is_list.then_some(sources) }),
        };
        self.transforms.push((index, typed_fn(&name, compiled, rt, types, &sourced, Returns::Value)));
        Some(name)
    }

    /// The program's module: its typed structs, typed functions and `steps`, which runs the
    /// operations of `arms` and applies the client steps' reports of `results`.
    fn module(&self, rt: &TokenStream, module: &syn::Ident, arms: &[(u32, TokenStream)], results: &[(u32, TokenStream)]) -> TokenStream {
        let p = quote!(#rt::machine::program);
        let Names { run, state, computed, inputs, refreshed } = Names::new();
        let loaded = hidden("loaded");
        let run_type = quote!(#rt::machine::Executor<'_, #p::ExprFn>);
        // Serialized as the tiers hold them: by the fields' own names, a field never written
        // (or a computed field removed) left out.
        let rt_path = rt.to_string().replace(' ', "");
        let serde_crate = format!("{rt_path}::serde");
        let slot_fields = |fields: &[Declared]| -> Vec<TokenStream> {
            fields
                .iter()
                .map(|f| {
                    let (ident, name, doc) = (&f.ident, &f.name, format!(" `{}`.", f.name));
                    let (rust_type, serde) = match &f.rust_type {
                        Some(rust_type) => {
                            let absent = format!("{rt_path}::machine::native::Slot::is_unset");
                            (quote!(#rt::machine::native::Slot<#rust_type>), quote!(skip_serializing_if = #absent))
                        }
                        None => {
                            let present = format!("{rt_path}::machine::native::computed_value");
                            (quote!(::core::option::Option<#rt::value::Value>), quote!(skip_serializing_if = "::core::option::Option::is_none", deserialize_with = #present))
                        }
                    };
                    quote!(#[doc = #doc] #[serde(rename = #name, default, #serde)] pub #ident: #rust_type)
                })
                .collect()
        };
        let (tiers, tiers_type) = (hidden("tiers"), quote!(#rt::machine::State));
        let loads = |fields: &[Declared], tier: TokenStream, root: &str| -> Vec<TokenStream> {
            fields
                .iter()
                .map(|f| {
                    let (ident, name) = (&f.ident, &f.name);
                    quote!(#ident: #rt::machine::native::Slot::load(&#tiers.#tier, #root, #name)?)
                })
                .collect()
        };
        let (state_fields, computed_fields, input_fields) = (slot_fields(&self.state), slot_fields(&self.computed), slot_fields(&self.inputs));
        let (state_loads, input_loads) = (loads(&self.state, quote!(state), "this"), loads(&self.inputs, quote!(inputs), "inputs"));
        let computed_loads = self.computed.iter().map(|f| {
            let (ident, name) = (&f.ident, &f.name);
            quote!(#ident: #tiers.computed.get(#name).cloned())
        });
        let stores = self.state.iter().map(|f| {
            let (ident, name) = (&f.ident, &f.name);
            quote!(if self.#ident != #loaded.#ident { #run.set(#name, self.#ident.value()); })
        });
        let computed_stores = self.computed.iter().map(|f| {
            let (ident, name) = (&f.ident, &f.name);
            quote!(if let ::core::option::Option::Some(value) = &self.#ident { #run.set_computed(#name, value.clone()); })
        });
        let functions = self.functions.iter().map(|(.., function)| function).chain(self.transforms.iter().map(|(_, function)| function));
        let at = |arms: &[(u32, TokenStream)]| match arms {
            [] => quote!(false),
            arms => {
                let pcs = arms.iter().map(|(pc, _)| pc);
                quote!(matches!(#run.pc(), #(#pcs)|*))
            }
        };
        let (at_operation, at_result) = (at(arms), at(results));
        let arms = arms.iter().map(|(pc, body)| quote!(#pc => { #run.tick()?; #body }));
        let results = results.iter().map(|(pc, body)| quote!(#pc => { #body ::core::result::Result::Ok(()) }));
        let (event, result) = (hidden("event"), hidden("result"));
        let doc = format!(" `{}`'s typed state and server-side steps.", self.program.name);
        let outcome_type = quote!(::core::result::Result<::core::option::Option<#rt::machine::Yield>, #rt::machine::StepError>);
        quote! {
            #[doc = #doc]
            #[allow(non_snake_case, unused_variables, unused_mut, clippy::all)]
            pub mod #module {
                /// The declared `this.*` fields of a type the machine holds natively.
                #[derive(Clone, Debug, Default, PartialEq, #rt::serde::Serialize, #rt::serde::Deserialize)]
                #[serde(crate = #serde_crate)]
                pub struct State { #(#state_fields,)* }

                /// The computed fields' values (`None`: removed by `on_error: ignore`).
                #[derive(Clone, Debug, Default, #rt::serde::Serialize, #rt::serde::Deserialize)]
                #[serde(crate = #serde_crate)]
                pub struct Computed { #(#computed_fields,)* }

                /// The declared inputs of a type the machine holds natively.
                #[derive(Clone, Debug, Default, PartialEq, #rt::serde::Serialize, #rt::serde::Deserialize)]
                #[serde(crate = #serde_crate)]
                pub struct Inputs { #(#input_fields,)* }

                impl State {
                    /// The typed fields of an instance's state (`Machine::state`): an error
                    /// names a field holding a value of another type.
                    pub fn from_tiers(#tiers: &#tiers_type) -> ::core::result::Result<State, ::std::string::String> {
                        ::core::result::Result::Ok(State { #(#state_loads,)* })
                    }

                    /// Stores the fields changed since `loaded` into the state tier.
                    fn store(&self, #loaded: &State, #run: &mut #run_type) {
                        #(#stores)*
                    }
                }

                impl Computed {
                    /// The computed values of an instance's state.
                    pub fn from_tiers(#tiers: &#tiers_type) -> Computed {
                        Computed { #(#computed_loads,)* }
                    }

                    fn store(&self, #run: &mut #run_type) {
                        #(#computed_stores)*
                    }
                }

                impl Inputs {
                    /// The typed inputs of an instance's state.
                    pub fn from_tiers(#tiers: &#tiers_type) -> ::core::result::Result<Inputs, ::std::string::String> {
                        ::core::result::Result::Ok(Inputs { #(#input_loads,)* })
                    }
                }

                #(#functions)*

                /// Applies the report `event` of the client step the machine waits on, if it
                /// is one this module handles, then runs server-side operations from where the
                /// machine stands until one that is left to the executor.
                pub fn steps(#run: &mut #run_type, #event: &mut ::core::option::Option<#rt::machine::Event>) -> #outcome_type {
                    let reported = match #event {
                        ::core::option::Option::None => false,
                        ::core::option::Option::Some(#rt::machine::Event::Done(_)) if #at_result => true,
                        ::core::option::Option::Some(_) => return ::core::result::Result::Ok(::core::option::Option::None),
                    };
                    if !reported && !#at_operation {
                        return ::core::result::Result::Ok(::core::option::Option::None);
                    }
                    let #inputs = Inputs::from_tiers(#run.state()).map_err(|cause| #run.fail(#run.step(), cause))?;
                    let #loaded = State::from_tiers(#run.state()).map_err(|cause| #run.fail(#run.step(), cause))?;
                    let mut #state = #loaded.clone();
                    let mut #computed = Computed::from_tiers(#run.state());
                    let mut #refreshed = false;
                    let outcome = match #event {
                        ::core::option::Option::Some(#rt::machine::Event::Done(#result)) if reported => {
                            match results(#run, &mut #state, &mut #computed, &mut #refreshed, &#inputs, #result) {
                                ::core::result::Result::Ok(()) => {
                                    *#event = ::core::option::Option::None;
                                    operations(#run, &mut #state, &mut #computed, &mut #refreshed, &#inputs)
                                }
                                // Nothing was written: the executor applies the report again
                                // and fails it as the step's `error_handling` says.
                                ::core::result::Result::Err(_) => ::core::result::Result::Ok(::core::option::Option::None),
                            }
                        }
                        _ => operations(#run, &mut #state, &mut #computed, &mut #refreshed, &#inputs),
                    };
                    #state.store(&#loaded, #run);
                    if #refreshed {
                        #computed.store(#run);
                    }
                    outcome
                }

                /// Applies the report `result` of the client step at the machine's `pc`.
                fn results(
                    #run: &mut #run_type,
                    #state: &mut State,
                    #computed: &mut Computed,
                    #refreshed: &mut bool,
                    #inputs: &Inputs,
                    #result: &#rt::value::Value,
                ) -> ::core::result::Result<(), #rt::machine::StepError> {
                    match #run.pc() {
                        #(#results)*
                        _ => ::core::result::Result::Err(#run.fail(#run.step(), "no generated outcome for this step")),
                    }
                }

                fn operations(
                    #run: &mut #run_type,
                    #state: &mut State,
                    #computed: &mut Computed,
                    #refreshed: &mut bool,
                    #inputs: &Inputs,
                ) -> #outcome_type {
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

/// The field of `fields` named `name`.
fn held<'f>(fields: &'f [Declared], name: &str) -> Option<&'f Declared> {
    fields.iter().find(|f| f.name == name)
}

/// `<holder>.<field>`.
fn typed_place(holder: &syn::Ident, field: &Declared) -> TokenStream {
    let ident = &field.ident;
    quote!(#holder.#ident)
}

/// The local holding a field's new value until every update of the step succeeded.
fn new_value(field: &Declared) -> syn::Ident {
    hidden(&format!("new_{}", field.ident))
}

/// A state field or input as a `Slot` holds it — name, Rust type, whether a number — if its
/// declared type is one a `Slot` holds.
fn slot(name: &str, field_type: Option<FieldType>) -> Option<(&str, Option<TokenStream>, bool)> {
    let rust_type = match field_type? {
        FieldType::Number => quote!(f64),
        FieldType::Boolean => quote!(bool),
        FieldType::String => quote!(::std::sync::Arc<str>),
        FieldType::Object | FieldType::Array => return None,
    };
    Some((name, Some(rust_type), field_type == Some(FieldType::Number)))
}

/// The fields a struct holds — name, `Slot` type (`None`: a computed value), whether a number —
/// with Rust names (a name that is not an identifier is made one; a clash gets a suffix).
fn declared<'a>(fields: impl Iterator<Item = (&'a str, Option<TokenStream>, bool)>) -> Vec<Declared> {
    let mut declared: Vec<Declared> = Vec::new();
    for (name, rust_type, number) in fields {
        let mut ident: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
        if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
            ident.insert(0, '_');
        }
        while declared.iter().any(|d| d.ident == ident) {
            ident.push('_');
        }
        // A keyword (`type`, `self`) cannot name a field.
        let ident = syn::parse_str::<syn::Ident>(&ident).unwrap_or_else(|_| format_ident!("{ident}_"));
        declared.push(Declared { name: name.to_owned(), ident, rust_type, number });
    }
    declared
}

/// Whether every read of `this`/`state`/`computed` in `e` is a plain `root.field` (no optional
/// link, no computed key, no whole root): the reads the typed functions answer from the structs.
fn reads_state_by_field(e: &Expr) -> bool {
    let state_root = |e: &Expr| matches!(e, Expr::Name(Name::Root(Root::This | Root::State | Root::Computed)));
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

/// Whether a transform reads `input` only as the generated transforms hold it: for a list
/// `from`, as `input[k]` with a constant index; for a single one, as anything but a member
/// named directly on it (`input.length` reads through the scope).
fn reads_input_in_place(e: &Expr, list: bool) -> bool {
    let is_input = |e: &Expr| matches!(e, Expr::Name(Name::Root(Root::Named(name))) if name == "input");
    let constant_index = |e: &Expr| matches!(e, Expr::Number(k) if *k >= 0.0 && k.fract() == 0.0);
    let mut in_place = true;
    e.walk(&mut |e| match e {
        Expr::Member { object, property, optional: false } if list && is_input(object) && constant_index(property) => false,
        Expr::Member { object, property, .. } if !list && is_input(object) && matches!(**property, Expr::String(_)) => {
            in_place = false;
            false
        }
        e if is_input(e) => {
            in_place &= !list;
            false
        }
        _ => true,
    });
    in_place
}
