//! Serving: plain HTTP or TLS (rustls), the periodic checkpoint and purge tasks, and a broker in this
//! process for the demo and the tests.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

use super::{AppState, router};

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Certificate and key (PEM files) for TLS termination by the broker.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, PEM.
    pub cert: std::path::PathBuf,
    /// Private key, PEM.
    pub key: std::path::PathBuf,
}

impl TlsFiles {
    /// Loads both files as the TLS listener would, to report a bad pair before serving.
    pub async fn check(&self) -> std::io::Result<()> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        axum_server::tls_rustls::RustlsConfig::from_pem_file(&self.cert, &self.key)
            .await
            .map(drop)
    }
}

/// Serves the API over TLS (rustls) on `listener` until `shutdown` completes; responses also
/// carry `Strict-Transport-Security`.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    state: AppState,
    tls: &TlsFiles,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // rustls with ring, the provider the rest of the build already uses; a second install is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key).await?;
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    let app = router(state).layer(SetResponseHeaderLayer::overriding(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    ));
    axum_server::from_tcp_rustls(listener, config)
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
}

/// Signs a checkpoint every `interval` when the log has grown since the last one.
pub async fn checkpoint_periodically(state: AppState, interval: Duration) {
    let mut last = None;
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match state.store.audit_size().await {
            Ok(size) if Some(size) != last && size > 0 => match state.checkpoint().await {
                Ok(cp) => {
                    tracing::info!(size = cp.size, "access log checkpoint signed");
                    last = Some(cp.size);
                }
                Err(e) => tracing::warn!(error = %e, "could not sign a checkpoint"),
            },
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read the access log size"),
        }
    }
}

/// Purges what is past its retention (`sluis purge`) at start and then every `interval` (a day
/// by default); each receipt is kept for the care organisation (`GET /v1/cases/{id}/receipts`).
pub async fn purge_periodically(state: AppState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        match state.purge().await {
            Ok(purged) if purged.is_empty() => {}
            Ok(purged) => tracing::info!(cases = purged.len(), "purged what is past its retention"),
            Err(e) => tracing::warn!(error = %e, "could not purge"),
        }
    }
}

/// A broker serving on a local port in this process (demo and tests).
#[derive(Debug)]
pub struct RunningBroker {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningBroker {
    /// Binds `addr` (use port 0 for a free port) and serves in the background.
    pub async fn start(state: AppState, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(serve(listener, state, async {
            let _ = rx.await;
        }));
        Ok(Self {
            base_url,
            stop: Some(tx),
            task: Some(task),
        })
    }

    /// Stops serving and waits for open requests to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}
