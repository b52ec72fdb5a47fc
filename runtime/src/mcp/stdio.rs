//! Newline-delimited JSON-RPC on stdin and stdout, with every line answered. The MCP library
//! skips a line that is not JSON without a word, so a client that sent one waits until it times
//! out; JSON-RPC says such a line gets error -32700 with a `null` id. So the lines are read here
//! first: a line that is not UTF-8 JSON is answered -32700, one longer than the server accepts
//! -32600, and the rest go on to the library. What the library writes and those answers are
//! put on stdout a whole line at a time, never interleaved.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Room in each in-process pipe between this module and the library.
const PIPE_BYTES: usize = 64 * 1024;

/// The library's ends of the two pipes, and the task that writes stdout (wait for it, so that
/// the last answers are written before the process exits).
pub(super) struct Lines {
    /// What the library reads: the lines that parsed.
    pub(super) incoming: DuplexStream,
    /// What the library writes: its messages, one per line.
    pub(super) outgoing: DuplexStream,
    /// Writes stdout until the library's end of `outgoing` is dropped.
    pub(super) writer: JoinHandle<()>,
}

/// Reads `input` and writes `output` as described above, lines of at most `max_line` bytes.
pub(super) fn split_lines(input: impl AsyncRead + Unpin + Send + 'static, output: impl AsyncWrite + Unpin + Send + 'static, max_line: usize) -> Lines {
    let (incoming, mut to_library) = tokio::io::duplex(PIPE_BYTES);
    let (outgoing, from_library) = tokio::io::duplex(PIPE_BYTES);
    let (errors, mut error_lines) = mpsc::channel::<String>(16);
    tokio::spawn(async move {
        let mut input = BufReader::new(input);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = read_line_capped(&mut input, &mut line, max_line).await;
            let answer = match read {
                Ok(Read::Eof) | Err(_) => return,
                Ok(Read::Oversized) => Some(error_line(-32600, &format!("Invalid Request: the message is longer than {max_line} bytes"))),
                Ok(Read::Line) => {
                    let text = line.strip_suffix(b"\n").unwrap_or(&line);
                    let text = text.strip_suffix(b"\r").unwrap_or(text);
                    if text.iter().all(u8::is_ascii_whitespace) {
                        None
                    } else if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(text) {
                        Some(error_line(-32700, &format!("Parse error: {error}")))
                    } else {
                        if to_library.write_all(text).await.is_err() || to_library.write_all(b"\n").await.is_err() {
                            return;
                        }
                        None
                    }
                }
            };
            if let Some(answer) = answer
                && errors.send(answer).await.is_err()
            {
                return;
            }
        }
    });
    let writer = tokio::spawn(async move {
        let mut output = output;
        let mut from_library = BufReader::new(from_library);
        let mut message = Vec::new();
        loop {
            message.clear();
            let line = tokio::select! {
                read = from_library.read_until(b'\n', &mut message) => match read {
                    Ok(0) | Err(_) => {
                        // The library is done: answer what is queued, then stop.
                        while let Ok(line) = error_lines.try_recv() {
                            let _ = output.write_all(line.as_bytes()).await;
                        }
                        let _ = output.flush().await;
                        return;
                    }
                    Ok(_) => message.as_slice(),
                },
                Some(line) = error_lines.recv() => {
                    message.extend_from_slice(line.as_bytes());
                    message.as_slice()
                }
            };
            if output.write_all(line).await.is_err() || output.flush().await.is_err() {
                return;
            }
        }
    });
    Lines { incoming, outgoing, writer }
}

/// A JSON-RPC error response with a `null` id, as one line.
fn error_line(code: i32, message: &str) -> String {
    format!("{}\n", serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}}))
}

enum Read {
    Line,
    Oversized,
    Eof,
}

/// Reads one line into `line`, keeping at most `max` bytes; a longer line is read to its end
/// and dropped.
async fn read_line_capped(input: &mut (impl tokio::io::AsyncBufRead + Unpin), line: &mut Vec<u8>, max: usize) -> std::io::Result<Read> {
    let mut oversized = false;
    loop {
        let buffer = input.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(if line.is_empty() && !oversized { Read::Eof } else if oversized { Read::Oversized } else { Read::Line });
        }
        let (take, done) = match memchr::memchr(b'\n', buffer) {
            Some(at) => (at + 1, true),
            None => (buffer.len(), false),
        };
        if !oversized && line.len() + take > max.saturating_add(1) {
            oversized = true;
            line.clear();
        }
        if !oversized {
            line.extend_from_slice(&buffer[..take]);
        }
        input.consume(take);
        if done {
            return Ok(if oversized { Read::Oversized } else { Read::Line });
        }
    }
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
