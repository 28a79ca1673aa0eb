//! The accept loop of one endpoint.

use std::sync::Arc;
use std::time::Duration;

use chat_kernel::{ConsoleEvent, Kernel, Transport};
use futures_lite::future;
use smol::Executor;
use smol::net::TcpListener;

/// Pause after a failed `accept` (EMFILE, ENFILE...), so the loop never spins.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Spawns a TCP connection's tasks on the server's executor.
struct OnExecutor<'a>(&'a Executor<'static>);

impl chat_async_io::Spawn for OnExecutor<'_> {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        self.0.spawn(future).detach();
    }
}

/// Accepts connections on `listener` until the shutdown signal fires, spawning one task per
/// connection on `executor`; each task holds a clone of `done` until it ends.
pub(crate) async fn accept_loop(
    kernel: Kernel,
    name: Arc<str>,
    transport: Transport,
    listener: TcpListener,
    done: async_channel::Sender<()>,
    executor: Arc<Executor<'static>>,
) {
    let page = match transport {
        Transport::WebSocket => Some(Arc::new(chat_web::Page::new(&name))),
        Transport::Tcp => None,
    };
    let shutdown = kernel.shutdown_signal();
    loop {
        let accepted = future::or(
            async {
                shutdown.wait().await;
                None
            },
            async { Some(listener.accept().await) },
        )
        .await;
        let Some(accepted) = accepted else { return };
        match accepted {
            Ok((stream, peer)) => {
                let (kernel, name, done) = (kernel.clone(), name.clone(), done.clone());
                match &page {
                    // The readiness API (`readable`, `writable`) is on the `Async` inside
                    // smol's stream; taking it out costs nothing. The WebSocket connection
                    // takes the same `Async`.
                    None => chat_async_io::spawn_connection(
                        &OnExecutor(&executor),
                        kernel,
                        name,
                        stream.into(),
                        peer,
                        done,
                    ),
                    Some(page) => executor
                        .spawn(chat_async_io::serve_websocket_connection(
                            kernel,
                            name,
                            stream.into(),
                            peer,
                            page.clone(),
                            done,
                        ))
                        .detach(),
                }
            }
            Err(e) => {
                kernel
                    .console()
                    .print(&name, ConsoleEvent::Error(format!("accept: {e}")));
                let stop = future::or(
                    async {
                        shutdown.wait().await;
                        true
                    },
                    async {
                        smol::Timer::after(ACCEPT_BACKOFF).await;
                        false
                    },
                )
                .await;
                if stop {
                    return;
                }
            }
        }
    }
}
