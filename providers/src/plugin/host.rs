//! Hosting a plugin process as a [`Provider`].
//!
//! One process serves every call (they are multiplexed by id); a reader task routes its lines
//! to the waiting calls. The process is a connection, like an HTTP pool: it holds no call's
//! state, and every call brings its own context. A process that exits, stops answering or
//! prints something that is not a protocol line fails the calls it had with a clear error,
//! never hangs them; the next call starts a fresh process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Deserialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::protocol::{
    CallContext, Handshake, HostMessage, PluginMessage, WireError, PROTOCOL_VERSION,
};
use crate::capabilities::Capabilities;
use crate::context::{resolve, CredentialKind, RuntimeContext};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{EventStream, StreamEvent};
use crate::provider::Provider;
use crate::request::Request;
use crate::response::Response;

/// The longest line a plugin may print (a response with a large body fits many times over).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// How long a starting plugin has to print its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// The wait for a plugin's next line when the call's context sets no timeout.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Added to the context's timeout before the host gives up on a silent plugin, so a plugin that
/// enforces the timeout itself reports its own `timeout` first.
const GRACE: Duration = Duration::from_secs(1);

/// How to start a plugin: `manifest.json` beside it, the command run in that folder.
///
/// ```json
/// { "command": ["python3", "plugin.py"], "env": { "PYTHONUNBUFFERED": "1" } }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Extra environment variables for the process.
    #[serde(default)]
    pub env: HashMap<String, String>,
    /// The plugin protocol version it speaks, checked before the process starts (the
    /// handshake checks it again); optional.
    #[serde(default)]
    pub protocol: Option<u32>,
    /// The folder the command runs in (the manifest's folder when loaded from a file).
    #[serde(skip)]
    pub dir: Option<PathBuf>,
}

impl Manifest {
    /// A manifest for `command` run in the current folder.
    pub fn command<I, S>(command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            command: command.into_iter().map(Into::into).collect(),
            env: HashMap::new(),
            protocol: None,
            dir: None,
        }
    }

    /// Reads a manifest file; its command runs in the file's folder.
    pub fn load(path: &Path) -> Result<Self> {
        let fail = |what: String| {
            Error::new(
                ErrorKind::InvalidRequest,
                "plugin",
                format!("plugin manifest {}: {what}", path.display()),
            )
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let mut manifest: Self = serde_json::from_str(&text).map_err(|e| {
            fail(format!(
                "{e} (expected {{\"command\": [\"program\", \"arg\", …]}})"
            ))
        })?;
        if manifest.command.is_empty() {
            return Err(fail("`command` is empty".into()));
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = std::fs::canonicalize(dir).map_err(|e| fail(e.to_string()))?;
        // A relative program path is the manifest's (`../../target/…/python3`): resolve it here,
        // since how a child's program is looked up relative to its new folder differs by OS.
        if manifest.command[0].contains('/') && Path::new(&manifest.command[0]).is_relative() {
            manifest.command[0] = dir
                .join(&manifest.command[0])
                .to_string_lossy()
                .into_owned();
        }
        manifest.dir = Some(dir);
        Ok(manifest)
    }
}

/// A plugin process hosted as a [`Provider`].
pub struct PluginProvider {
    manifest: Manifest,
    handshake: Handshake,
    conn: tokio::sync::Mutex<Arc<Conn>>,
}

impl std::fmt::Debug for PluginProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginProvider")
            .field("name", &self.handshake.name)
            .field("command", &self.manifest.command)
            .finish_non_exhaustive()
    }
}

impl PluginProvider {
    /// Starts the plugin and reads its handshake.
    pub async fn start(manifest: Manifest) -> Result<Self> {
        let (conn, handshake) = Conn::spawn(&manifest).await?;
        Ok(Self {
            manifest,
            handshake,
            conn: tokio::sync::Mutex::new(conn),
        })
    }

    /// What the plugin said about itself.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// The live process, started again if the last one died.
    async fn conn(&self) -> Result<Arc<Conn>> {
        let mut conn = self.conn.lock().await;
        if conn.death.get().is_some() {
            tracing::info!(plugin = %self.handshake.name, "restarting the plugin process");
            let (fresh, handshake) = Conn::spawn(&self.manifest).await?;
            if handshake.name != self.handshake.name {
                return Err(self.error(
                    ErrorKind::MalformedResponse,
                    format!(
                        "the restarted plugin calls itself `{}`, not `{}`",
                        handshake.name, self.handshake.name
                    ),
                ));
            }
            *conn = fresh;
        }
        Ok(conn.clone())
    }

    fn error(&self, kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::new(kind, self.handshake.name.clone(), message)
    }

    /// Sends a call and returns its answers' receiver, behind a guard that cancels it when
    /// dropped.
    async fn call(&self, request: &Request, ctx: &RuntimeContext, stream: bool) -> Result<Call> {
        let name = self.handshake.name.as_str();
        let resolved = resolve(name, &self.handshake.capabilities, request, ctx, stream)?;
        let credential = resolved.credential.get(name, resolved.client).await?;
        let context = CallContext {
            model: resolved.model.to_owned(),
            credential: credential.expose().to_owned(),
            credential_kind: match credential.kind() {
                CredentialKind::ApiKey => "api_key",
                CredentialKind::BearerToken => "bearer",
            }
            .to_owned(),
            base_url: resolved.base_url.to_owned(),
            api_version: resolved.api_version.map(str::to_owned),
            headers: resolved.headers.to_vec(),
            timeout_ms: resolved.timeout.map(|t| t.as_millis() as u64),
            tenant: resolved.tenant.map(str::to_owned),
        };
        let mut request = request.clone();
        request.params = resolved.params.clone();
        let conn = self.conn().await?;
        let id = conn.next_id.fetch_add(1, Ordering::Relaxed);
        let message = if stream {
            HostMessage::Stream {
                id,
                request,
                context,
            }
        } else {
            HostMessage::Generate {
                id,
                request,
                context,
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        conn.pending.lock().expect("pending lock").insert(id, tx);
        let call = Call {
            id,
            rx,
            conn,
            name: self.handshake.name.clone(),
            secret: credential.expose().to_owned(),
            wait: resolved.timeout.map_or(DEFAULT_CALL_TIMEOUT, |t| t + GRACE),
            done: false,
        };
        let line = serde_json::to_string(&message).expect("protocol messages serialise");
        if call.conn.lines.send(line).is_err() {
            return Err(call.died());
        }
        Ok(call)
    }
}

impl Provider for PluginProvider {
    fn name(&self) -> &str {
        &self.handshake.name
    }

    fn capabilities(&self) -> Capabilities {
        self.handshake.capabilities
    }

    fn generate<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, Result<Response>> {
        Box::pin(async move {
            let mut call = self.call(request, ctx, false).await?;
            let answer = call.next().await;
            call.done = true;
            match answer? {
                PluginMessage::Response { response, .. } => Ok(response),
                PluginMessage::Error { error, .. } => Err(call.vendor_error(error)),
                PluginMessage::Event { .. } => {
                    Err(call.malformed("the plugin answered a generate call with a stream event"))
                }
            }
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a Request,
        ctx: &'a RuntimeContext,
    ) -> BoxFuture<'a, Result<EventStream>> {
        Box::pin(async move {
            let mut call = self.call(request, ctx, true).await?;
            // The future resolves once the plugin has accepted the call: its first event, or
            // the error that refused it.
            let first = match call.next().await? {
                PluginMessage::Event { event, .. } => event,
                PluginMessage::Error { error, .. } => {
                    call.done = true;
                    return Err(call.vendor_error(error));
                }
                PluginMessage::Response { .. } => {
                    call.done = true;
                    return Err(
                        call.malformed("the plugin answered a stream call with a whole response")
                    );
                }
            };
            let state = (call, Some(first));
            let events = futures_util::stream::unfold(state, |(mut call, first)| async move {
                if call.done {
                    return None;
                }
                let item = match first {
                    Some(event) => Ok(event),
                    None => match call.next().await {
                        Ok(PluginMessage::Event { event, .. }) => Ok(event),
                        Ok(PluginMessage::Error { error, .. }) => Err(call.vendor_error(error)),
                        Ok(PluginMessage::Response { .. }) => {
                            Err(call.malformed("the plugin sent a whole response inside a stream"))
                        }
                        Err(e) => Err(e),
                    },
                };
                call.done = matches!(item, Err(_) | Ok(StreamEvent::Finish { .. }));
                Some((item, (call, None)))
            });
            Ok(Box::pin(events) as EventStream)
        })
    }
}

/// One call in flight: its answers, and a guard that withdraws it when dropped early.
struct Call {
    id: u64,
    rx: mpsc::UnboundedReceiver<PluginMessage>,
    conn: Arc<Conn>,
    name: String,
    secret: String,
    wait: Duration,
    done: bool,
}

impl Call {
    /// The call's next line, or why there is none.
    async fn next(&mut self) -> Result<PluginMessage> {
        match tokio::time::timeout(self.wait, self.rx.recv()).await {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(self.died()),
            Err(_) => {
                self.done = true;
                Err(Error::new(
                    ErrorKind::Timeout,
                    self.name.clone(),
                    format!(
                        "the plugin sent nothing for this call within {} ms",
                        self.wait.as_millis()
                    ),
                ))
            }
        }
    }

    fn died(&self) -> Error {
        let why = self.conn.death.get().cloned().unwrap_or_else(|| {
            "the plugin process stopped answering (its output closed)".to_owned()
        });
        Error::new(ErrorKind::Transport, self.name.clone(), why).scrub(&self.secret)
    }

    fn vendor_error(&self, error: WireError) -> Error {
        error.into_error(&self.name).scrub(&self.secret)
    }

    fn malformed(&self, what: &str) -> Error {
        Error::malformed(&self.name, what)
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.conn
            .pending
            .lock()
            .expect("pending lock")
            .remove(&self.id);
        if !self.done {
            let cancel = HostMessage::Cancel { id: self.id };
            let _ = self
                .conn
                .lines
                .send(serde_json::to_string(&cancel).expect("serialises"));
        }
    }
}

type Pending = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<PluginMessage>>>>;

/// One running plugin process.
struct Conn {
    /// Lines for the writer task (so a dropped call can cancel without awaiting).
    lines: mpsc::UnboundedSender<String>,
    pending: Pending,
    next_id: AtomicU64,
    /// Set once, when the process is gone: why.
    death: Arc<OnceLock<String>>,
    /// Killed when the connection is dropped.
    _child: Arc<tokio::sync::Mutex<Child>>,
}

impl Conn {
    async fn spawn(manifest: &Manifest) -> Result<(Arc<Self>, Handshake)> {
        let fail = |kind, what: String| Error::new(kind, "plugin", what);
        let (program, args) = manifest.command.split_first().ok_or_else(|| {
            fail(
                ErrorKind::InvalidRequest,
                "the plugin command is empty".into(),
            )
        })?;
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(&manifest.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = &manifest.dir {
            command.current_dir(dir);
        }
        let mut child = command.spawn().map_err(|e| {
            fail(
                ErrorKind::Transport,
                format!("cannot start plugin `{}`: {e}", manifest.command.join(" ")),
            )
        })?;
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut stderr = child.stderr.take().expect("piped");
        let child = Arc::new(tokio::sync::Mutex::new(child));
        let handshake = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_line(&mut stdout)).await
        {
            Err(_) => {
                return Err(fail(
                    ErrorKind::Timeout,
                    format!(
                        "the plugin printed no handshake within {} s",
                        HANDSHAKE_TIMEOUT.as_secs()
                    ),
                ))
            }
            Ok(Ok(Some(line))) => parse_handshake(&line)?,
            Ok(Ok(None)) => {
                let status = child.lock().await.wait().await.ok();
                // No call has run yet, so no credential can be in it: show what it said.
                let said = stderr_tail(&mut stderr).await;
                return Err(fail(
                    ErrorKind::Transport,
                    format!(
                        "the plugin exited before its handshake ({}){said}",
                        status.map_or("status unknown".into(), |s| s.to_string())
                    ),
                ));
            }
            Ok(Err(e)) => return Err(e),
        };
        let name = handshake.name.clone();
        let (lines, outbox) = mpsc::unbounded_channel();
        let conn = Arc::new(Self {
            lines,
            pending: Arc::default(),
            next_id: AtomicU64::new(1),
            death: Arc::default(),
            _child: child.clone(),
        });
        tokio::spawn(write_lines(stdin, outbox, conn.death.clone()));
        tokio::spawn(log_stderr(name.clone(), stderr));
        tokio::spawn(route(
            name,
            stdout,
            conn.pending.clone(),
            conn.death.clone(),
            child,
        ));
        Ok((conn, handshake))
    }
}

/// The last lines a plugin that failed to start wrote on stderr, for the error message.
async fn stderr_tail(stderr: &mut tokio::process::ChildStderr) -> String {
    use tokio::io::AsyncReadExt;
    let mut text = Vec::new();
    let mut limited = stderr.take(64 * 1024);
    let read = limited.read_to_end(&mut text);
    if tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .is_err()
        || text.is_empty()
    {
        return String::new();
    }
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().rev().take(8).collect();
    let tail: Vec<&str> = lines.into_iter().rev().collect();
    format!("; its stderr ends:\n{}", tail.join("\n"))
}

fn parse_handshake(line: &str) -> Result<Handshake> {
    let handshake: Handshake = serde_json::from_str(line).map_err(|e| {
        Error::malformed(
            "plugin",
            format!(
                "the plugin's first line is not a handshake ({e}): {}",
                preview(line)
            ),
        )
    })?;
    if handshake.protocol != PROTOCOL_VERSION {
        return Err(Error::new(
            ErrorKind::Unsupported,
            handshake.name,
            format!(
                "the plugin speaks protocol {}, this host speaks {PROTOCOL_VERSION}",
                handshake.protocol
            ),
        ));
    }
    Ok(handshake)
}

/// The start of a line, for error messages.
fn preview(line: &str) -> String {
    let mut end = line.len().min(120);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}", &line[..end])
}

/// Reads one `\n`-terminated line of at most [`MAX_LINE_BYTES`]; `None` at the end of output.
/// (By hand rather than `read_line`, which grows without bound.)
async fn read_line(reader: &mut (impl AsyncBufRead + Unpin)) -> Result<Option<String>> {
    let mut line = Vec::new();
    loop {
        let buf = reader
            .fill_buf()
            .await
            .map_err(|e| Error::new(ErrorKind::Transport, "plugin", e.to_string()))?;
        if buf.is_empty() {
            return Ok(None);
        }
        let (take, end) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if line.len() > MAX_LINE_BYTES {
            return Err(Error::malformed(
                "plugin",
                format!("the plugin printed a line over {MAX_LINE_BYTES} bytes"),
            ));
        }
        if end {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return String::from_utf8(line)
                .map(Some)
                .map_err(|_| Error::malformed("plugin", "the plugin printed invalid UTF-8"));
        }
    }
}

async fn write_lines(
    mut stdin: tokio::process::ChildStdin,
    mut outbox: mpsc::UnboundedReceiver<String>,
    death: Arc<OnceLock<String>>,
) {
    while let Some(mut line) = outbox.recv().await {
        line.push('\n');
        if let Err(e) = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await
        }
        .await
        {
            let _ = death.set(format!("the plugin stopped reading its input: {e}"));
            return;
        }
    }
}

async fn log_stderr(name: String, stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(plugin = %name, "{line}");
    }
}

/// Routes the plugin's lines to their calls until its output ends or breaks the protocol; then
/// records why, kills the process and drops every waiting call's sender (they see the death).
async fn route(
    name: String,
    mut stdout: BufReader<tokio::process::ChildStdout>,
    pending: Pending,
    death: Arc<OnceLock<String>>,
    child: Arc<tokio::sync::Mutex<Child>>,
) {
    let why = loop {
        let line = match read_line(&mut stdout).await {
            Ok(Some(line)) => line,
            Ok(None) => {
                let status = tokio::time::timeout(Duration::from_secs(2), async {
                    child.lock().await.wait().await
                })
                .await;
                break match status {
                    Ok(Ok(s)) => format!("the plugin process exited ({s})"),
                    _ => "the plugin closed its output".to_owned(),
                };
            }
            Err(e) => break e.message,
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<PluginMessage>(&line) {
            Ok(message) => {
                let target = pending
                    .lock()
                    .expect("pending lock")
                    .get(&message.id())
                    .cloned();
                // Lines for a call that was cancelled or never made are dropped.
                if let Some(tx) = target {
                    let _ = tx.send(message);
                }
            }
            Err(e) => {
                break format!(
                    "the plugin printed a line that is not a protocol message ({e}): {}",
                    preview(&line)
                )
            }
        }
    };
    tracing::warn!(plugin = %name, "{why}");
    let _ = death.set(why);
    let _ = child.lock().await.start_kill();
    pending.lock().expect("pending lock").clear();
}
