//! Random expressions over random JSON inputs, each evaluated by wfc and by node; they must
//! agree (same value, or the same kind of error). 2,000 cases per run from a fixed seed
//! (`WFC_PROPTEST_SEED=<u64>` picks another); a failure shrinks to a minimal expression.

mod oracle;

use std::sync::{Mutex, OnceLock};

use oracle::{Case, NodeOracle, ours};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn node() -> &'static Mutex<NodeOracle> {
    static NODE: OnceLock<Mutex<NodeOracle>> = OnceLock::new();
    NODE.get_or_init(|| Mutex::new(NodeOracle::start()))
}

/// A JSON-like input written as a JavaScript literal.
fn input() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        (-20i32..20).prop_map(|n| n.to_string()),
        (-100.0f64..100.0).prop_map(|f| format!("{f:.3}")),
        "[a-c0-9 ]{0,4}".prop_map(|s| format!("'{s}'")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((prop_oneof![Just("a"), Just("b"), Just("0"), Just("1")], inner), 0..3).prop_map(|fields| {
                let body: Vec<String> = fields.into_iter().map(|(k, v)| format!("'{k}': {v}")).collect();
                format!("({{{}}})", body.join(", "))
            }),
        ]
    })
}

/// A random expression over `input`.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("input".to_owned()),
        Just("input.a".to_owned()),
        Just("input[0]".to_owned()),
        Just("input?.b".to_owned()),
        (-5i32..10).prop_map(|n| n.to_string()),
        Just("1.5".to_owned()),
        Just("NaN".to_owned()),
        Just("null".to_owned()),
        Just("undefined".to_owned()),
        Just("true".to_owned()),
        "[a-c1 ]{0,3}".prop_map(|s| format!("'{s}'")),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let binary = prop_oneof![
            Just("+"), Just("-"), Just("*"), Just("/"), Just("%"), Just("<"), Just(">="), Just("=="), Just("==="),
            Just("!=="), Just("&&"), Just("||"), Just("??"),
        ];
        prop_oneof![
            (inner.clone(), binary, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (prop_oneof![Just("!"), Just("-"), Just("typeof ")], inner.clone()).prop_map(|(op, a)| format!("({op}({a}))")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("({a} ? {b} : {c})")),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|items| format!("[{}]", items.join(", "))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({{x: {a}, y: {b}}})")),
            inner.clone().prop_map(|a| format!("String({a})")),
            inner.clone().prop_map(|a| format!("JSON.stringify({a})")),
            inner.clone().prop_map(|a| format!("Object.keys({a} ?? {{}})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("Math.max({a}, {b})")),
            inner.clone().prop_map(|a| format!("[{a}, 2, 'x'].join('-')")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("[1, 2, 3].map(v => v + {a}).filter(v => v != {b})")),
            (inner.clone(), 0i32..3, -1i32..4).prop_map(|(a, s, e)| format!("String({a}).slice({s}, {e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("[{a}, {b}].includes({b})")),
            inner.clone().prop_map(|a| format!("({a})?.length")),
            inner.clone().prop_map(|a| format!("`t${{{a}}}`")),
            (inner.clone(), prop_oneof![Just("' '"), Just("'a'"), Just("'1 '"), Just("''"), Just("/\\s+/"), Just("/b*/"), Just("/(a)|b/"), Just("/ ?/")])
                .prop_map(|(a, separator)| format!("String({a}).split({separator})")),
            inner.prop_map(|a| format!("[3, 1, 2, {a}].sort()")),
        ]
    })
}

fn config() -> Config {
    let seed = std::env::var("WFC_PROPTEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_0f3c);
    Config { cases: 2_000, rng_seed: RngSeed::Fixed(seed), failure_persistence: None, ..Config::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_expressions_agree_with_node(expr in expression(), input in input()) {
        let case = Case::new(expr, input);
        let expected = node().lock().expect("oracle lock").eval(&case);
        let actual = ours(&case);
        prop_assert_eq!(actual, expected, "{}  with input {}", case.expr, case.input);
    }
}
