//! The MCP server: the one module that names the MCP library's types. It lists the engine's
//! tools ([`crate::engine::tools`]) and answers each call in one envelope — `{"data": …}`, or
//! `{"error": {"code", "message"}}` with `isError` — so agents written for AroMCP read it; it
//! offers every served workflow as a prompt ([`prompts`]) and what can be read about workflows
//! and instances as resources ([`resources`]), and tells clients what changes
//! ([`Server::announce`]).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams, GetPromptResponse, Implementation,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ResourceUpdatedNotificationParam, ServerCapabilities, ServerConfig, SubscribeRequestParams, Tool,
    UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, Peer, RequestContext};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

use crate::engine::store::{Actor, ActorKind};
use crate::engine::{self, Engine, Observer, tools};

mod elicit;
mod http;
mod notify;
mod prompts;
mod resources;
mod stdio;

pub use http::HttpSettings;

/// The largest request line accepted over stdio; a longer one is dropped with an error
/// response and the connection stays open.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// How long requests in flight may take to finish once a shutdown was asked for.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

const INSTRUCTIONS: &str = "Runs compiled workflows step by step. workflow_list shows what can run; workflow_start \
starts one; then loop: workflow_get_next_step gives steps to do in order, and workflow_submit_result reports the last \
step's result and gives the next steps, until the answer says completed: true.";

/// The most resources one session may subscribe to: each costs memory and a look per commit.
const MAX_SUBSCRIPTIONS: usize = 1_000;

/// How often a catalog that changes while served (`--dev`) is looked at, to tell clients
/// their prompt and resource lists changed.
const CATALOG_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Histogram buckets, in seconds: from a cached tool call to a long shell command.
const BUCKETS: [f64; 14] = [0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0, 3600.0];

/// Serves `engine` over MCP.
#[derive(Clone)]
pub struct Server {
    engine: Arc<Engine>,
    tools: Arc<Vec<Tool>>,
    metrics: Option<PrometheusHandle>,
    /// This client's session (see [`Server::session`]).
    session: Arc<Session>,
    /// Every session of the server (stdio: one; HTTP: one per client), to tell them of what
    /// no request of theirs asked about.
    sessions: Arc<Sessions>,
}

/// Every session of the server, and a bell rung when one's subscriptions change.
#[derive(Default)]
struct Sessions {
    live: Mutex<Vec<Weak<Session>>>,
    resubscribed: tokio::sync::Notify,
    /// The engine's commits from the moment of the latest subscription on: made before the
    /// subscription is answered, so no commit after it goes unheard (see [`Server::announce`]).
    listening: Mutex<Option<tokio::sync::broadcast::Receiver<String>>>,
}

impl Sessions {
    fn add(&self, session: &Arc<Session>) {
        let mut live = lock(&self.live);
        live.retain(|s| s.strong_count() > 0);
        live.push(Arc::downgrade(session));
    }

    fn live(&self) -> Vec<Arc<Session>> {
        lock(&self.live).iter().filter_map(Weak::upgrade).collect()
    }

    fn any_subscribed(&self) -> bool {
        self.live().iter().any(|session| !lock(&session.subscribed).is_empty())
    }
}

/// What the server keeps of one client's session.
#[derive(Default)]
struct Session {
    /// How to reach the client, once it has initialized.
    peer: OnceLock<Peer<RoleServer>>,
    /// The least severe log message the client gets (`logging/setLevel`).
    log_level: notify::Level,
    /// The resources it subscribed to.
    subscribed: Mutex<HashSet<String>>,
}

impl Server {
    /// A server for `engine`.
    pub fn new(engine: Arc<Engine>) -> Server {
        let tools = tools::specs().into_iter().map(|spec| Tool::new(spec.name, spec.description, spec.schema).with_raw_output_schema(Arc::new(spec.output_schema))).collect();
        let session = Arc::new(Session::default());
        let sessions = Arc::new(Sessions::default());
        sessions.add(&session);
        Server { engine, tools: Arc::new(tools), metrics: None, session, sessions }
    }

    /// The server for a new session: the same engine and tools, a session of its own.
    fn session(&self) -> Server {
        let session = Arc::new(Session::default());
        self.sessions.add(&session);
        Server { session, ..self.clone() }
    }

    /// Tells the sessions what changed without their asking, until the engine goes: a commit
    /// of an instance whose state or history a session subscribed to
    /// (`notifications/resources/updated`), and a new revision of a catalog that changes while
    /// served (`notifications/prompts/list_changed` and `resources/list_changed`).
    async fn announce(engine: Arc<Engine>, sessions: Arc<Sessions>) {
        use tokio::sync::broadcast::error::RecvError;
        let mut commits = None;
        let mut revision = engine.catalog_revision();
        let mut poll = tokio::time::interval(CATALOG_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Commits are listened to only while some session subscribes: otherwise a commit
            // costs nothing here.
            let fresh = lock(&sessions.listening).take();
            if !sessions.any_subscribed() {
                commits = None;
            } else if commits.is_none() {
                commits = fresh;
            }
            let next_commit = async {
                match commits.as_mut() {
                    Some(commits) => commits.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sessions.resubscribed.notified() => {}
                commit = next_commit => match commit {
                    Ok(id) => tell_updated(&sessions, |uri| resources::instance_uris(&id).iter().any(|changed| changed == uri)).await,
                    // Some commits went unheard: every subscription may have changed.
                    Err(RecvError::Lagged(_)) => tell_updated(&sessions, |_| true).await,
                    Err(RecvError::Closed) => return,
                },
                _ = poll.tick(), if revision.is_some() => {
                    let engine = Arc::clone(&engine);
                    // Looking at a directory is file-system work: off the thread that answers.
                    let now = tokio::task::spawn_blocking(move || engine.catalog_revision()).await.unwrap_or(revision);
                    if now != revision {
                        revision = now;
                        for peer in peers(&sessions) {
                            let _ = peer.notify_prompt_list_changed().await;
                            let _ = peer.notify_resource_list_changed().await;
                        }
                    }
                }
            }
        }
    }

    /// Records metrics (the process's one recorder) for `/metrics` in Prometheus' text format:
    /// instances started and ended by workflow and status, active instances, tool call and
    /// client step latencies, shell command durations and timeouts, store commit latency.
    pub fn with_metrics(mut self) -> Result<Server, String> {
        let builder = PrometheusBuilder::new().set_buckets(&BUCKETS).map_err(|e| e.to_string())?;
        self.metrics = Some(builder.install_recorder().map_err(|e| format!("cannot record metrics: {e}"))?);
        Ok(self)
    }

    /// Speaks MCP on stdin and stdout until the client closes them or `shutdown` completes
    /// (requests in flight are answered first).
    pub async fn serve_stdio(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let announcing = tokio::spawn(Server::announce(Arc::clone(&self.engine), Arc::clone(&self.sessions)));
        let _stop_announcing = AbortOnDrop(announcing);
        let (stdin, stdout) = stdio::standard_streams();
        let lines = stdio::split_lines(stdin, stdout, MAX_REQUEST_BYTES);
        let writer = lines.writer;
        let transport = AsyncRwTransport::new_server(lines.incoming, lines.outgoing).with_max_line_length(MAX_REQUEST_BYTES + 1);
        let mut shutdown = Box::pin(shutdown);
        let running = tokio::select! {
            running = self.serve(transport) => running.map_err(std::io::Error::other)?,
            () = &mut shutdown => return Ok(()),
        };
        let stop = running.cancellation_token();
        tokio::spawn(async move {
            shutdown.await;
            stop.cancel();
        });
        running.waiting().await.map_err(std::io::Error::other)?;
        // The library's end of the output pipe is gone with it: the last answers are written.
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, writer).await;
        Ok(())
    }
}

impl Server {
    /// Speaks MCP's streamable HTTP at `http://<listener>/mcp` until `shutdown` completes;
    /// then it takes no new connections and gives requests in flight [`SHUTDOWN_GRACE`] to
    /// finish. Every route is behind the guard of [`HttpSettings`]: on a loopback listener only
    /// loopback `Host` headers and origins are accepted (DNS-rebinding protection), a token is
    /// checked when one is set, and connections, sessions and slow clients are bounded.
    pub async fn serve_http(self, listener: tokio::net::TcpListener, settings: HttpSettings, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let mut config = StreamableHttpServerConfig::default().with_max_request_body_bytes(settings.max_body_bytes);
        if settings.remote {
            config = config.disable_allowed_hosts();
        }
        // Cancelling the service's token also ends its open event streams, which a graceful
        // shutdown would otherwise wait on.
        let stop = config.cancellation_token.clone();
        let stopped = stop.clone();
        let server = self;
        let server_engine = Arc::clone(&server.engine);
        let metrics = server.metrics.clone();
        let every_session = Arc::clone(&server.sessions);
        let mut sessions = LocalSessionManager::default();
        sessions.session_config.keep_alive = Some(settings.session_idle);
        let sessions = Arc::new(sessions);
        let service = StreamableHttpService::new(move || Ok(server.session()), Arc::clone(&sessions), config);
        let engine = Arc::clone(&server_engine);
        let ready_engine = Arc::clone(&server_engine);
        // Set once a shutdown was asked for: from then on the server is not ready for more.
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ready_stopping = Arc::clone(&stopping);
        let mut router = axum::Router::new()
            .nest_service("/mcp", service)
            .route("/healthz", axum::routing::get(async move || health(&engine)))
            .route("/livez", axum::routing::get(async || probe(axum::http::StatusCode::OK, serde_json::json!({"status": "live"}))))
            .route("/readyz", axum::routing::get(async move || readiness(&ready_engine, &ready_stopping)));
        if let Some(metrics) = metrics {
            let engine = Arc::clone(&server_engine);
            router = router.route(
                "/metrics",
                axum::routing::get(async move || {
                    // The gauge is read from the store when scraped, so it counts instances
                    // no request has touched since a restart.
                    let _ = engine.running();
                    metrics.render()
                }),
            );
        }
        let announcing = tokio::spawn(Server::announce(Arc::clone(&server_engine), every_session));
        let _stop_announcing = AbortOnDrop(announcing);
        let guard = http::Guard { settings: Arc::new(settings), sessions };
        let router = router.layer(axum::middleware::from_fn_with_state(guard.clone(), http::guard));
        let serving = http::serve_connections(listener, router, &guard.settings, stopped);
        tokio::select! {
            served = serving => served,
            () = async {
                shutdown.await;
                stopping.store(true, std::sync::atomic::Ordering::SeqCst);
                stop.cancel();
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => Ok(()),
        }
    }
}

/// A probe's answer: `body` as JSON, labelled so.
type Probe = (axum::http::StatusCode, [(axum::http::header::HeaderName, &'static str); 1], String);

fn probe(status: axum::http::StatusCode, body: serde_json::Value) -> Probe {
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], format!("{body}\n"))
}

/// `/healthz`: 200 with the running instances when the store answers, 503 when it does not.
fn health(engine: &Engine) -> Probe {
    match engine.running() {
        Ok(running) => probe(axum::http::StatusCode::OK, serde_json::json!({"status": "ok", "running": running})),
        Err(error) => probe(axum::http::StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({"status": "unavailable", "error": error.message})),
    }
}

/// `/readyz`: 200 when the server takes work — the store answers, at least one workflow is
/// served (a `--dev` directory whose every file is broken serves none), and no shutdown was
/// asked for; 503 with the reason otherwise. (`/livez` answers 200 while the process serves
/// requests at all.)
fn readiness(engine: &Engine, stopping: &std::sync::atomic::AtomicBool) -> Probe {
    let unready = |reason: String| probe(axum::http::StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({"status": "not ready", "reason": reason}));
    if stopping.load(std::sync::atomic::Ordering::SeqCst) {
        return unready("the server is shutting down".to_owned());
    }
    let running = match engine.running() {
        Ok(running) => running,
        Err(error) => return unready(format!("the store does not answer: {}", error.message)),
    };
    let workflows = engine.workflows().len();
    if workflows == 0 {
        return unready("no workflow is served".to_owned());
    }
    probe(axum::http::StatusCode::OK, serde_json::json!({"status": "ready", "workflows": workflows, "running": running}))
}

/// Who a tool call comes from, for the history: the client as it named itself in
/// `initialize`, and over HTTP its session and address.
fn actor(context: &RequestContext<RoleServer>) -> Actor {
    let parts = context.extensions.get::<axum::http::request::Parts>();
    let header = |name: &str| parts.and_then(|p| p.headers.get(name)).and_then(|h| h.to_str().ok()).map(str::to_owned);
    Actor {
        kind: ActorKind::Client,
        client: context.peer.peer_info().map(|info| format!("{} {}", info.client_info.name, info.client_info.version)),
        session: header("mcp-session-id"),
        transport: Some(if parts.is_some() { "http" } else { "stdio" }.to_owned()),
        remote_address: parts.and_then(|p| p.extensions.get::<http::RemoteAddress>()).map(|address| address.0.to_string()),
    }
}

impl ServerHandler for Server {
    #[allow(deprecated, reason = "MCP's logging is deprecated by SEP-2577 but is what clients speak today")]
    fn get_info(&self) -> ServerConfig {
        let mut capabilities = ServerCapabilities::builder().enable_tools().enable_prompts().enable_resources().enable_resources_subscribe().enable_logging().build();
        // Only a catalog that changes while served (`--dev`) ever announces a change.
        if self.engine.catalog_revision().is_some() {
            capabilities.prompts.iter_mut().for_each(|prompts| prompts.list_changed = Some(true));
            capabilities.resources.iter_mut().for_each(|resources| resources.list_changed = Some(true));
        }
        ServerConfig::new(capabilities).with_server_info(Implementation::new("wfc", env!("CARGO_PKG_VERSION"))).with_instructions(INSTRUCTIONS)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let _ = self.session.peer.set(context.peer);
    }

    async fn list_resources(&self, _: Option<PaginatedRequestParams>, _: RequestContext<RoleServer>) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(resources::list(&self.engine)))
    }

    async fn list_resource_templates(&self, _: Option<PaginatedRequestParams>, _: RequestContext<RoleServer>) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(resources::templates()))
    }

    async fn read_resource(&self, request: ReadResourceRequestParams, _: RequestContext<RoleServer>) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(&self.engine, &request.uri).await.map(Into::into)
    }

    #[allow(deprecated, reason = "resources/subscribe is what clients of protocol versions up to 2025-11-25 speak")]
    async fn subscribe(&self, request: SubscribeRequestParams, _: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        let Some(id) = resources::subscribable(&request.uri) else {
            return Err(ErrorData::invalid_params(format!("`{}` does not change while served: only an instance's state or history can be subscribed to", request.uri), None));
        };
        if !self.engine.has_instance(id).map_err(|e| ErrorData::internal_error(e.message, None))? {
            return Err(ErrorData::resource_not_found(format!("no workflow instance `{id}`"), None));
        }
        let mut subscribed = lock(&self.session.subscribed);
        if subscribed.len() >= MAX_SUBSCRIPTIONS && !subscribed.contains(&request.uri) {
            return Err(ErrorData::invalid_params(format!("a session may subscribe to at most {MAX_SUBSCRIPTIONS} resources; unsubscribe from one first"), None));
        }
        *lock(&self.sessions.listening) = Some(self.engine.commits());
        subscribed.insert(request.uri);
        drop(subscribed);
        self.sessions.resubscribed.notify_one();
        Ok(())
    }

    #[allow(deprecated, reason = "resources/unsubscribe is what clients of protocol versions up to 2025-11-25 speak")]
    async fn unsubscribe(&self, request: UnsubscribeRequestParams, _: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        lock(&self.session.subscribed).remove(&request.uri);
        self.sessions.resubscribed.notify_one();
        Ok(())
    }

    async fn list_tools(&self, _: Option<PaginatedRequestParams>, _: RequestContext<RoleServer>) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    async fn list_prompts(&self, _: Option<PaginatedRequestParams>, _: RequestContext<RoleServer>) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(self.engine.workflows().iter().map(|d| prompts::prompt(d)).collect()))
    }

    async fn get_prompt(&self, request: GetPromptRequestParams, _: RequestContext<RoleServer>) -> Result<GetPromptResponse, ErrorData> {
        let workflows = self.engine.workflows();
        let Some(definition) = workflows.iter().find(|d| prompts::prompt_name(&d.name) == request.name) else {
            let names: Vec<String> = workflows.iter().map(|d| prompts::prompt_name(&d.name)).collect();
            return Err(ErrorData::invalid_params(format!("no prompt `{}` (prompts: {})", request.name, names.join(", ")), None));
        };
        prompts::get(definition, &request.arguments.unwrap_or_default()).map(Into::into)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|tool| tool.name == name).cloned()
    }

    #[allow(deprecated, reason = "MCP's logging is deprecated by SEP-2577 but is what clients speak today")]
    async fn set_level(&self, request: rmcp::model::SetLevelRequestParams, _: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        self.session.log_level.set(request.level);
        Ok(())
    }

    async fn call_tool(&self, request: CallToolRequestParams, context: RequestContext<RoleServer>) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let arguments = request.arguments.unwrap_or_default();
        let id = |key: &str| arguments.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let span = tracing::info_span!(
            "tool",
            tool = %name,
            workflow = %id("workflow"),
            instance = %id("workflow_id"),
            task = %id("task_id"),
            step = %id("step_id")
        );
        let started = std::time::Instant::now();
        let observer: Arc<dyn Observer> = Arc::new(notify::Notifier::new(context.peer.clone(), context.meta.get_progress_token(), self.session.log_level.clone()));
        let actor = actor(&context);
        let outcome = engine::ACTOR.scope(actor, async {
            let answer = tools::call(&self.engine, &name, arguments, Some(&observer)).await?;
            // A question for the person goes to the person, when the client can show a form.
            if matches!(name.as_str(), "workflow_get_next_step" | "workflow_submit_result") && elicit::can_ask(&context.peer) {
                return elicit::ask_person(&self.engine, &context.peer, answer, Some(&observer)).await;
            }
            Ok(answer)
        })
        .instrument(span)
        .await;
        metrics::histogram!("wfc_tool_call_seconds", "tool" => name.clone()).record(started.elapsed());
        let result = match outcome {
            // The envelope both as structured content (what the tool's outputSchema describes)
            // and, serialized, as the text older clients read.
            Ok(data) => CallToolResult::structured(serde_json::json!({"data": data})),
            Err(error) => {
                tracing::debug!(code = %error.code, message = %error.message, "tool call refused");
                let envelope = serde_json::json!({"error": {"code": error.code, "message": error.message}});
                CallToolResult::error(vec![ContentBlock::text(envelope.to_string())])
            }
        };
        Ok(result.into())
    }
}

/// The peers of the live sessions that initialized.
fn peers(sessions: &Sessions) -> Vec<Peer<RoleServer>> {
    sessions.live().iter().filter_map(|session| session.peer.get().cloned()).collect()
}

/// Sends `notifications/resources/updated` for every subscribed URI that `changed` says changed.
async fn tell_updated(sessions: &Sessions, changed: impl Fn(&str) -> bool) {
    let told: Vec<(Peer<RoleServer>, Vec<String>)> = sessions
        .live()
        .into_iter()
        .filter_map(|session| {
            let uris: Vec<String> = lock(&session.subscribed).iter().filter(|uri| changed(uri)).cloned().collect();
            Some((session.peer.get()?.clone(), uris)).filter(|(_, uris)| !uris.is_empty())
        })
        .collect();
    for (peer, uris) in told {
        for uri in uris {
            let _ = peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(uri)).await;
        }
    }
}

/// A lock that a panic elsewhere did not make unusable (what it guards stays consistent).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Aborts a background task when the server it serves stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
