//! The plugin side of the protocol for a Rust [`Provider`]: serve it over any byte pipe
//! (`concord plugin-serve` serves a built-in provider over stdio). Each call runs in its own
//! task with one shared HTTP client; `cancel` aborts the task, which drops the call's stream
//! and so closes its upstream connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::protocol::{
    CallContext, Handshake, HandshakeTag, HostMessage, PluginMessage, WireError, PROTOCOL_VERSION,
};
use crate::context::{Credential, RuntimeContext};
use crate::provider::Provider;

/// Serves `provider` until `input` ends: writes the handshake, then answers every call.
pub async fn serve<R, W>(
    provider: Arc<dyn Provider>,
    version: &str,
    client: reqwest::Client,
    input: R,
    mut output: W,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let handshake = Handshake {
        kind: HandshakeTag::Handshake,
        protocol: PROTOCOL_VERSION,
        name: provider.name().to_owned(),
        version: version.to_owned(),
        capabilities: provider.capabilities(),
    };
    let (out, mut outbox) = mpsc::unbounded_channel::<PluginMessage>();
    let writer = tokio::spawn(async move {
        let mut line = serde_json::to_string(&handshake).expect("serialises");
        line.push('\n');
        output.write_all(line.as_bytes()).await?;
        output.flush().await?;
        while let Some(message) = outbox.recv().await {
            let mut line = serde_json::to_string(&message).expect("serialises");
            line.push('\n');
            output.write_all(line.as_bytes()).await?;
            output.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let tasks: Arc<Mutex<HashMap<u64, JoinHandle<()>>>> = Arc::default();
    let mut lines = BufReader::new(input).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        let message: HostMessage = match serde_json::from_str(&line) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("ignoring a line that is not a host message: {e}");
                continue;
            }
        };
        let (id, request, context, stream) = match message {
            HostMessage::Cancel { id } => {
                if let Some(task) = tasks.lock().expect("tasks lock").remove(&id) {
                    task.abort();
                }
                continue;
            }
            HostMessage::Generate {
                id,
                request,
                context,
            } => (id, request, context, false),
            HostMessage::Stream {
                id,
                request,
                context,
            } => (id, request, context, true),
        };
        let ctx = runtime_context(context, &client);
        let (provider, out, done) = (provider.clone(), out.clone(), tasks.clone());
        // Held across the spawn so a call that ends at once removes itself after it is added.
        let mut running = tasks.lock().expect("tasks lock");
        let task = tokio::spawn(async move {
            let error = |e: &crate::Error| PluginMessage::Error {
                id,
                error: WireError::from(e),
            };
            if !stream {
                let _ = out.send(match provider.generate(&request, &ctx).await {
                    Ok(response) => PluginMessage::Response { id, response },
                    Err(e) => error(&e),
                });
            } else {
                match provider.stream(&request, &ctx).await {
                    Err(e) => {
                        let _ = out.send(error(&e));
                    }
                    Ok(mut events) => {
                        while let Some(item) = events.next().await {
                            let message = match item {
                                Ok(event) => PluginMessage::Event { id, event },
                                Err(e) => error(&e),
                            };
                            if out.send(message).is_err() {
                                break;
                            }
                        }
                    }
                }
            }
            done.lock().expect("tasks lock").remove(&id);
        });
        running.insert(id, task);
    }
    for (_, task) in tasks.lock().expect("tasks lock").drain() {
        task.abort();
    }
    drop(out);
    writer.await.map_err(std::io::Error::other)?
}

fn runtime_context(c: CallContext, client: &reqwest::Client) -> RuntimeContext {
    let credential = if c.credential_kind == "bearer" {
        Credential::bearer(c.credential)
    } else {
        Credential::new(c.credential)
    };
    RuntimeContext {
        model: Some(c.model),
        credential: Some(credential),
        base_url: Some(c.base_url),
        api_version: c.api_version,
        headers: c.headers,
        timeout: c.timeout_ms.map(std::time::Duration::from_millis),
        client: Some(client.clone()),
        tenant: c.tenant,
        ..RuntimeContext::default()
    }
}
