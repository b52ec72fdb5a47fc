//! What stands between the network and the MCP service over HTTP: the connection loop (a cap on
//! connections, a timeout for reading a request's headers) and a guard on every request (the
//! `Host` and `Origin` checks, bearer-token authentication, a cap on sessions, a timeout and a
//! size cap for reading the body). `docs/security.md` says what each protects.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

/// How the HTTP transport faces the network; [`HttpSettings::default`] suits a loopback server.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Bound to a non-loopback address on purpose (`--allow-remote`): any `Host` is accepted,
    /// and a token is required.
    pub remote: bool,
    /// The bearer token every request but the probes must carry (`Authorization: Bearer …`).
    pub auth_token: Option<String>,
    /// Browser origins allowed besides loopback ones (`--allowed-origin`), as
    /// `scheme://host[:port]`.
    pub allowed_origins: Vec<String>,
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// MCP sessions open at once; a new `initialize` beyond it gets 503.
    pub max_sessions: usize,
    /// A session with no request for this long is closed.
    pub session_idle: Duration,
    /// How long a client may take to send a request's headers (also how long an idle
    /// keep-alive connection stays open).
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body.
    pub body_timeout: Duration,
    /// The largest body accepted.
    pub max_body_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            remote: false,
            auth_token: None,
            allowed_origins: Vec::new(),
            max_connections: 256,
            max_sessions: 1_000,
            session_idle: Duration::from_secs(300),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_body_bytes: super::MAX_REQUEST_BYTES,
        }
    }
}

/// What the guard needs: the settings and the sessions it counts.
#[derive(Clone)]
pub(super) struct Guard {
    pub(super) settings: Arc<HttpSettings>,
    pub(super) sessions: Arc<LocalSessionManager>,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let mut response = (status, format!("{}\n", serde_json::json!({"error": message}))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    response
}

/// Whether `host` (a `Host` header or an origin's host, with or without a port) names this
/// machine's loopback interface.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |differ, (x, y)| differ | (x ^ y)) == 0
}

impl Guard {
    fn check_headers(&self, path: &str, headers: &HeaderMap) -> Result<(), Response> {
        let settings = &self.settings;
        // DNS rebinding: a page on another site that resolves its name to 127.0.0.1 sends
        // its own name as Host.
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        if !settings.remote && !is_loopback_host(host) {
            return Err(refuse(StatusCode::FORBIDDEN, "the Host header does not name this loopback server"));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            let loopback = origin.split_once("://").is_some_and(|(scheme, host)| matches!(scheme, "http" | "https") && is_loopback_host(host));
            if (!loopback || settings.remote) && !settings.allowed_origins.iter().any(|allowed| allowed == origin) {
                return Err(refuse(StatusCode::FORBIDDEN, "the Origin is not allowed (--allowed-origin)"));
            }
        }
        if let Some(token) = &settings.auth_token
            && !PROBES.contains(&path)
        {
            let given = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Bearer "));
            if !given.is_some_and(|given| constant_time_eq(given.trim().as_bytes(), token.as_bytes())) {
                return Err(refuse(StatusCode::UNAUTHORIZED, "a bearer token is required (Authorization: Bearer …)"));
            }
        }
        Ok(())
    }
}

/// The routes an orchestrator probes without credentials: they say how the server stands and
/// hold nothing else.
const PROBES: [&str; 3] = ["/healthz", "/livez", "/readyz"];

/// The middleware: every route's request passes these checks first, and a body is read whole,
/// within its time and size, before the MCP service sees it.
pub(super) async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if let Err(refused) = guard.check_headers(parts.uri.path(), &parts.headers) {
        return refused;
    }
    let opens_session = parts.method == axum::http::Method::POST && !parts.headers.contains_key("mcp-session-id");
    let ends_session = parts.method == axum::http::Method::DELETE;
    if opens_session && guard.sessions.sessions.read().await.len() >= guard.settings.max_sessions {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "too many open sessions (--max-sessions); close one or retry later");
    }
    let read = tokio::time::timeout(guard.settings.body_timeout, axum::body::to_bytes(body, guard.settings.max_body_bytes)).await;
    let bytes = match read {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, "the request body is larger than the server accepts"),
        Err(_) => return refuse(StatusCode::REQUEST_TIMEOUT, "the request body was not sent in time"),
    };
    let mut response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    // The library answers a session's DELETE `202 Accepted`, but the session is closed by
    // then: `204 No Content` says so, and is what clients (the official Python SDK, which
    // warns "Session termination failed: 202") take as done.
    if ends_session && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

/// The address of the peer a request came from (a request extension).
#[derive(Clone, Copy, Debug)]
pub(super) struct RemoteAddress(pub(super) std::net::SocketAddr);

/// Accepts connections on `listener` and serves `router` on each, at most
/// `settings.max_connections` at once, until `stop` is cancelled; then each open connection
/// finishes the request it is on.
pub(super) async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    settings: &HttpSettings,
    stop: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(settings.max_connections));
    let header_timeout = settings.header_timeout;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a moment rather than spin.
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => return Ok(()),
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!("connection refused: --max-connections are open");
            continue;
        };
        // Each request of the connection carries its peer's address, for the history's actor.
        let service = hyper_util::service::TowerToHyperService::new(router.clone().layer(axum::Extension(RemoteAddress(peer))));
        let stop = stop.clone();
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_with_and_without_ports() {
        for host in ["localhost", "localhost:8080", "127.0.0.1:1", "127.0.0.2", "[::1]:80", "[::1]", "LOCALHOST"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["evil.example", "evil.example:80", "10.0.0.1", "", "localhost.evil.example", "[::2]:80"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
