//! A loopback HTTP server that stops when dropped: the piece the mock vendor, the recording
//! proxy and the replay server share.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// Hop-by-hop headers a proxy must not forward (and the length, which a proxy that changes
/// the body changes).
pub(crate) const HOP: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "accept-encoding",
];

/// A running server; dropping it shuts it down gracefully.
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

/// Binds `127.0.0.1:port` (0: any free port).
pub(crate) async fn bind(port: u16) -> Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(Error::Bind)?;
    let addr = listener.local_addr().map_err(Error::Bind)?;
    Ok((listener, addr))
}

impl Server {
    /// Serves `app` on `listener` (bound at `addr`) in the background.
    pub(crate) fn spawn<L>(listener: L, addr: SocketAddr, app: axum::Router) -> Self
    where
        L: axum::serve::Listener,
        L::Addr: std::fmt::Debug,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = server.await {
                tracing::warn!("loopback server stopped: {e}");
            }
        });
        Self {
            addr,
            stop: Some(stop),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
