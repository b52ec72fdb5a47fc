//! Newline-delimited JSON-RPC on stdin and stdout, with every line answered. The MCP library
//! skips a line that is not JSON without a word, so a client that sent one waits until it times
//! out; JSON-RPC says such a line gets error -32700 with a `null` id. So the lines are checked
//! as the library reads them ([`CheckedLines`], in place, no task in between): a line that is
//! not UTF-8 JSON is answered -32700, one longer than the server accepts -32600, and the rest
//! go on to the library. What the library writes and those answers are put on stdout a whole
//! line at a time, never interleaved.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Room in the pipe from the library to the writer of stdout.
const PIPE_BYTES: usize = 64 * 1024;

/// Error answers waiting to be written; a client that floods bad lines and reads nothing loses
/// those past this many, rather than the server growing a queue without bound.
const QUEUED_ERRORS: usize = 64;

/// The process's stdin and stdout. When they are pipes (as an MCP client spawns a server) they
/// are read and written in place by the runtime's event loop, non-blocking; otherwise (a
/// terminal, a file) through tokio's stdio, which hands every read and write to a blocking
/// thread — a thread handoff each way on every request.
pub(super) fn standard_streams() -> (Box<dyn AsyncRead + Send + Unpin>, Box<dyn AsyncWrite + Send + Unpin>) {
    use std::os::fd::AsFd;
    use tokio::net::unix::pipe;
    let input = std::io::stdin().as_fd().try_clone_to_owned().ok().and_then(|fd| pipe::Receiver::from_owned_fd(fd).ok());
    let output = std::io::stdout().as_fd().try_clone_to_owned().ok().and_then(|fd| pipe::Sender::from_owned_fd(fd).ok());
    let input: Box<dyn AsyncRead + Send + Unpin> = match input {
        Some(pipe) => Box::new(pipe),
        None => Box::new(tokio::io::stdin()),
    };
    let output: Box<dyn AsyncWrite + Send + Unpin> = match output {
        Some(pipe) => Box::new(pipe),
        None => Box::new(tokio::io::stdout()),
    };
    (input, output)
}

/// What the library reads and writes instead of stdin and stdout, and the task that writes
/// stdout (wait for it, so that the last answers are written before the process exits).
pub(super) struct Lines<R> {
    /// The input's lines that parse, read in place (no task between stdin and the library).
    pub(super) incoming: CheckedLines<R>,
    /// What the library writes: its messages, one per line.
    pub(super) outgoing: DuplexStream,
    /// Writes stdout until the library's end of `outgoing` is dropped.
    pub(super) writer: JoinHandle<()>,
}

/// Reads `input` and writes `output` as described above, lines of at most `max_line` bytes.
pub(super) fn split_lines<R: AsyncRead + Unpin>(input: R, output: impl AsyncWrite + Unpin + Send + 'static, max_line: usize) -> Lines<BufReader<R>> {
    let (outgoing, from_library) = tokio::io::duplex(PIPE_BYTES);
    let (errors, mut error_lines) = mpsc::channel::<String>(QUEUED_ERRORS);
    let incoming = CheckedLines { inner: BufReader::new(input), line: Vec::new(), oversized: false, ready: Vec::new(), offset: 0, max_line, errors };
    let writer = tokio::spawn(async move {
        let mut output = output;
        let mut from_library = BufReader::new(from_library);
        // The library's message being read. A read that loses the race to an error answer
        // keeps what it has read here and goes on where it stopped, so the two never mix.
        let mut message = Vec::new();
        loop {
            let written = tokio::select! {
                read = from_library.read_until(b'\n', &mut message) => match read {
                    Ok(0) | Err(_) => {
                        // The library is done: answer what is queued, then stop.
                        while let Ok(line) = error_lines.try_recv() {
                            let _ = output.write_all(line.as_bytes()).await;
                        }
                        let _ = output.flush().await;
                        return;
                    }
                    Ok(_) => {
                        let written = output.write_all(&message).await;
                        message.clear();
                        written
                    }
                },
                Some(line) = error_lines.recv() => output.write_all(line.as_bytes()).await,
            };
            if written.is_err() || output.flush().await.is_err() {
                return;
            }
        }
    });
    Lines { incoming, outgoing, writer }
}

/// The input's lines that are UTF-8 JSON, each ending in a newline; the others are answered
/// through the writer of stdout.
pub(super) struct CheckedLines<R> {
    inner: R,
    /// The line being read.
    line: Vec<u8>,
    /// Whether the line being read is past `max_line` (and is being skipped).
    oversized: bool,
    /// A checked line, and how much of it the library has read.
    ready: Vec<u8>,
    offset: usize,
    max_line: usize,
    errors: mpsc::Sender<String>,
}

impl<R> CheckedLines<R> {
    /// A whole line was read: pass it on, or queue its error answer.
    fn finish_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        let answer = if std::mem::replace(&mut self.oversized, false) {
            Some(error_line(-32600, &format!("Invalid Request: the message is longer than {} bytes", self.max_line)))
        } else {
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if text.iter().all(u8::is_ascii_whitespace) {
                None
            } else if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(text) {
                Some(error_line(-32700, &format!("Parse error: {error}")))
            } else {
                self.ready.clear();
                self.ready.extend_from_slice(text);
                self.ready.push(b'\n');
                self.offset = 0;
                None
            }
        };
        if let Some(answer) = answer {
            // A full queue drops the answer: its client is not reading.
            let _ = self.errors.try_send(answer);
        }
        self.line = line;
        self.line.clear();
    }
}

impl<R: AsyncBufRead + Unpin> AsyncRead for CheckedLines<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.offset < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.offset);
                buf.put_slice(&this.ready[this.offset..this.offset + n]);
                this.offset += n;
                return Poll::Ready(Ok(()));
            }
            let available = ready!(Pin::new(&mut this.inner).poll_fill_buf(cx))?;
            if available.is_empty() {
                if this.line.is_empty() && !this.oversized {
                    return Poll::Ready(Ok(()));
                }
                // The last line, without its newline.
                this.finish_line();
                continue;
            }
            let (take, done) = match memchr::memchr(b'\n', available) {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            if !this.oversized && this.line.len() + take > this.max_line.saturating_add(1) {
                this.oversized = true;
                this.line.clear();
            }
            if !this.oversized {
                this.line.extend_from_slice(&available[..take]);
            }
            Pin::new(&mut this.inner).consume(take);
            if done {
                this.finish_line();
            }
        }
    }
}

/// A JSON-RPC error response with a `null` id, as one line.
fn error_line(code: i32, message: &str) -> String {
    format!("{}\n", serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn bad_lines_are_answered_and_good_ones_passed_on() {
        let (mut client, server_in) = tokio::io::duplex(4096);
        let (server_out, mut client_out) = tokio::io::duplex(4096);
        let mut lines = split_lines(server_in, server_out, 64);
        client.write_all(b"{\"ok\": 1}\nnot json\n\xff\xfe\n\n").await.expect("write");
        client.write_all(format!("{{\"long\": \"{}\"}}\n{{\"ok\": 2}}\n", "x".repeat(100)).as_bytes()).await.expect("write");
        drop(client);
        let mut passed = String::new();
        lines.incoming.read_to_string(&mut passed).await.expect("read");
        assert_eq!(passed, "{\"ok\": 1}\n{\"ok\": 2}\n");
        lines.outgoing.write_all(b"{\"from\":\"library\"}\n").await.expect("write");
        drop(lines.outgoing);
        lines.writer.await.expect("writer");
        let mut written = String::new();
        client_out.read_to_string(&mut written).await.expect("read");
        let codes: Vec<i64> = written.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["error"]["code"].as_i64()).collect();
        assert_eq!(codes, [-32700, -32700, -32600], "{written}");
        assert!(written.contains("{\"from\":\"library\"}\n"), "{written}");
        assert!(written.lines().all(|l| l.contains("\"id\":null") || l.contains("library")), "{written}");
    }
}
