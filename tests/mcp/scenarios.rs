//! The catalog's scenario workflows driven to their ends by a scripted agent through their
//! failure paths: an order whose payment fails, is retried with backoff and falls back (or is
//! cancelled with its stock released); a data pipeline with a failing partition; an approval
//! with a rejection and a timeout.

use super::*;

/// What the scripted agent does with a step: report this result, or report a failure.
type Reply = Result<Json, String>;

/// Drives instance `id` (or its task) to its end, answering each step that needs a result with
/// `reply(step)` and every task of a fan-out through [`drive_tasks`]; returns the last answer
/// and every step handed out, in order.
async fn drive(agent: &Agent, id: &str, task: Option<&str>, reply: &mut impl FnMut(&Json) -> Reply) -> (Json, Vec<Json>) {
    let target = |extra: Json| {
        let mut arguments = json!({"workflow_id": id});
        if let Some(task) = task {
            arguments["task_id"] = json!(task);
        }
        for (key, value) in extra.as_object().into_iter().flatten() {
            arguments[key] = value.clone();
        }
        arguments
    };
    let mut handed = Vec::new();
    let mut answer = agent.ok("workflow_get_next_step", target(json!({}))).await;
    for _ in 0..200 {
        handed.extend(answer["steps"].as_array().into_iter().flatten().cloned());
        if answer["status"] != "running" {
            return (answer, handed);
        }
        let step = last_step(&answer).clone();
        answer = match step["type"].as_str() {
            Some("parallel_foreach") => {
                drive_tasks(agent, id, &step, reply).await;
                agent.ok("workflow_get_next_step", target(json!({}))).await
            }
            Some("user_message" | "wait_step") => agent.ok("workflow_get_next_step", target(json!({}))).await,
            _ => {
                let outcome = match reply(&step) {
                    Ok(result) => json!({"result": result}),
                    Err(error) => json!({"error": error}),
                };
                let mut submitted = target(json!({"step_id": step["id"], "sequence": step["sequence"]}));
                for (key, value) in outcome.as_object().into_iter().flatten() {
                    submitted[key] = value.clone();
                }
                agent.ok("workflow_submit_result", submitted).await
            }
        };
    }
    panic!("{id} {task:?} did not end in 200 answers: {answer}");
}

/// Drives every task a fan-out step lists to its end with `reply`.
async fn drive_tasks(agent: &Agent, id: &str, fan_out: &Json, reply: &mut impl FnMut(&Json) -> Reply) {
    for task in fan_out["definition"]["tasks"].as_array().into_iter().flatten() {
        let task_id = task["task_id"].as_str().expect("a task id");
        Box::pin(drive(agent, id, Some(task_id), reply)).await;
    }
}

fn tool(step: &Json) -> &str {
    step["definition"]["tool"].as_str().unwrap_or_default()
}

fn messages(handed: &[Json]) -> Vec<String> {
    handed.iter().filter(|s| s["type"] == "user_message").map(|s| s["definition"]["message"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_payment_keeps_failing_falls_back_then_is_cancelled_with_its_stock_released() {
    let root = temp_root();
    let agent = Agent::catalog(root.path()).await;
    let inputs = json!({"order_id": "A-17", "amount": 42.5, "attempts": 3, "backoff_seconds": 0.05});

    // The main provider declines three times (the third does not even answer), the backup too.
    let id = agent.start("order:process", inputs.clone()).await;
    let mut charges = Vec::new();
    let (end, handed) = drive(&agent, &id, None, &mut |step| match tool(step) {
        "inventory_reserve" => Ok(json!({"reservation_id": "R-1", "items": 2})),
        "payments_charge" => {
            charges.push((step["definition"]["parameters"]["provider"].clone(), step["definition"]["parameters"]["attempt"].clone()));
            if charges.len() == 3 { Err("gateway timeout".to_owned()) } else { Ok(json!({"success": false, "error": "card declined"})) }
        }
        "inventory_release" => {
            assert_eq!(step["definition"]["parameters"]["reservation"]["reservation_id"], "R-1", "the reservation made is released");
            Ok(json!({"released": true}))
        }
        other => panic!("unexpected tool {other}"),
    })
    .await;
    assert_eq!(end["status"], "completed", "{end}");
    assert_eq!(charges, [(json!("main"), json!(1)), (json!("main"), json!(2)), (json!("main"), json!(3)), (json!("backup"), Json::Null)]);
    let state = agent.ok("workflow_state_read", json!({"workflow_id": id})).await["state"].clone();
    assert_eq!((&state["outcome"], &state["released"], &state["paid"]), (&json!("cancelled"), &json!(true), &json!(false)), "{state}");
    let cancelled = messages(&handed).pop().expect("a last message");
    assert!(cancelled.contains("Order A-17 cancelled") && cancelled.contains("main, try 3: the provider did not answer") && cancelled.contains("backup: card declined"), "{cancelled}");
    // The backoff ran on the server between tries: 0.05 s, then 0.1 s.
    let history = agent.ok("workflow_history", json!({"workflow_id": id})).await;
    let waits: Vec<&Json> = history["events"].as_array().expect("events").iter().filter(|e| e["kind"] == "shell" && e["step_id"] == "wait_before_retry").collect();
    assert_eq!(waits.len(), 2, "{history}");

    // Declined once, then taken: no backup, no release.
    let id = agent.start("order:process", inputs).await;
    let mut tries = 0;
    let (end, handed) = drive(&agent, &id, None, &mut |step| match tool(step) {
        "inventory_reserve" => Ok(json!({"reservation_id": "R-2"})),
        "payments_charge" => {
            tries += 1;
            Ok(json!({"success": tries > 1, "error": "insufficient funds"}))
        }
        other => panic!("unexpected tool {other}"),
    })
    .await;
    assert_eq!(end["status"], "completed", "{end}");
    assert_eq!(tries, 2);
    let confirmed = messages(&handed).pop().expect("a last message");
    assert_eq!(confirmed, "Order A-17 confirmed: 42.5 charged by the main provider after 1 failed attempt(s).");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_pipeline_loads_the_partitions_that_transformed_and_reports_the_one_that_failed() {
    let root = temp_root();
    let agent = Agent::catalog(root.path()).await;
    let id = agent.start("data:pipeline", json!({"source": "s3://bucket/day.jsonl", "partition_size": 2})).await;
    let mut loaded = Json::Null;
    let (end, handed) = drive(&agent, &id, None, &mut |step| match (step["type"].as_str().unwrap_or_default(), tool(step)) {
        // Five records, one invalid (no id): two partitions of two.
        (_, "extract_records") => Ok(json!({"records": [{"id": "a"}, {"id": "b"}, {"name": "no id"}, {"id": "c"}, {"id": "d"}]})),
        ("agent_prompt" | "agent_response", _) => {
            let prompt = step["definition"]["prompt"].as_str().unwrap_or_default();
            if prompt.contains("partition 1") {
                return Err("record c: cannot parse its timestamp".to_owned());
            }
            Ok(json!({"rows": [{"row": "a"}, {"row": "b"}]}))
        }
        (_, "load_rows") => {
            loaded = step["definition"]["parameters"]["rows"].clone();
            Ok(json!({"loaded": 2}))
        }
        other => panic!("unexpected step {other:?}"),
    })
    .await;
    assert_eq!(end["status"], "completed", "the failing partition does not fail the pipeline: {end}");
    assert_eq!(loaded, json!([{"row": "a"}, {"row": "b"}]), "only the partition that transformed is loaded");
    let report = messages(&handed).pop().expect("the report");
    assert!(report.starts_with("2 row(s) loaded from 4 valid record(s) (1 rejected) in 2 partition(s)."), "{report}");
    assert!(report.contains("1 partition(s) failed and were not loaded:\n- transform_partition.item1: record c: cannot parse its timestamp"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_is_granted_by_both_rejected_by_either_and_escalated_past_its_deadline() {
    let root = temp_root();
    let agent = Agent::catalog(root.path()).await;
    let subject = json!({"subject": "the 2.0 release", "approvers": ["ana", "bo"]});
    let decide = |decisions: [&'static str; 2]| {
        move |step: &Json| -> Reply {
            let prompt = step["definition"]["prompt"].as_str().unwrap_or_default();
            let who = usize::from(prompt.starts_with("bo"));
            Ok(match step["id"].as_str() {
                Some("decide") => json!(decisions[who]),
                _ if decisions[who] == "reject" => json!("the changelog is missing"),
                _ => json!(""),
            })
        }
    };
    for (decisions, expected) in [
        (["approve", "approve"], "Approved: the 2.0 release (ana and bo)."),
        (["approve", "reject"], "Rejected: the 2.0 release.\n- bo: the changelog is missing\n"),
    ] {
        let id = agent.start("approval:request", subject.clone()).await;
        let (end, handed) = drive(&agent, &id, None, &mut decide(decisions)).await;
        assert_eq!(end["status"], "completed", "{end}");
        assert_eq!(messages(&handed).pop().as_deref(), Some(expected));
    }

    // The same workflow with a deadline of a second: bo never answers.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let yaml = std::fs::read_to_string(repo().join("workflows/approval:request.yaml")).expect("the workflow");
    assert!(yaml.contains("timeout_seconds: 86400"));
    std::fs::write(dir.path().join("approval.yaml"), yaml.replace("timeout_seconds: 86400", "timeout_seconds: 1")).expect("write");
    let agent = Agent::serve(root.path(), &["--workflows", dir.path().to_str().expect("utf-8")]).await;
    let id = agent.start("approval:request", subject).await;
    let fan_out = last_step(&agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await).clone();
    let ana = fan_out["definition"]["tasks"][0]["task_id"].as_str().expect("ana's task").to_owned();
    drive(&agent, &id, Some(&ana), &mut decide(["approve", "approve"])).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (end, handed) = drive(&agent, &id, None, &mut |step| panic!("nothing more to answer: {step}")).await;
    assert_eq!(end["status"], "completed", "{end}");
    assert_eq!(messages(&handed).pop().as_deref(), Some("Escalated: the 2.0 release — no answer in time from 1 approver(s) (collect_decision.item1)."));
}
