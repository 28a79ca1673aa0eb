//! The accept loop of one endpoint.

use std::sync::Arc;
use std::time::Duration;

use async_std::net::TcpListener;
use chat_kernel::{ConsoleEvent, Kernel, Transport};
use futures_lite::future;

use crate::tcp;

/// Pause after a failed `accept` (EMFILE, ENFILE...), so the loop never spins.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts connections on `listener` until the shutdown signal fires, spawning one task per
/// connection; each task holds a clone of `done` until it ends.
pub(crate) async fn accept_loop(
    kernel: Kernel,
    name: Arc<str>,
    transport: Transport,
    listener: TcpListener,
    done: async_channel::Sender<()>,
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
                let socket = match tcp::adopt(stream) {
                    Ok(socket) => socket,
                    Err(e) => {
                        let error = format!("adopting a connection from {peer}: {e}");
                        kernel.console().print(&name, ConsoleEvent::Error(error));
                        continue;
                    }
                };
                match &page {
                    None => chat_async_io::spawn_connection(
                        &tcp::Tasks,
                        kernel,
                        name,
                        socket,
                        peer,
                        done,
                    ),
                    Some(page) => {
                        let page = page.clone();
                        // Dropping the handle detaches the task.
                        drop(async_std::task::spawn(
                            chat_async_io::serve_websocket_connection(
                                kernel, name, socket, peer, page, done,
                            ),
                        ));
                    }
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
                        async_std::task::sleep(ACCEPT_BACKOFF).await;
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
