//! The accept loop of one endpoint.

use std::sync::Arc;
use std::time::Duration;

use chat_kernel::{ConsoleEvent, Kernel, Transport};
use tokio::net::TcpListener;

use crate::{tcp, ws};

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
        let accepted = tokio::select! {
            biased;
            () = shutdown.wait() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let (kernel, name, done) = (kernel.clone(), name.clone(), done.clone());
                match &page {
                    None => tcp::spawn_connection(kernel, name, stream, peer, done),
                    Some(page) => {
                        let page = page.clone();
                        tokio::spawn(ws::serve_connection(kernel, name, stream, peer, page, done));
                    }
                }
            }
            Err(e) => {
                kernel
                    .console()
                    .print(&name, ConsoleEvent::Error(format!("accept: {e}")));
                tokio::select! {
                    () = shutdown.wait() => return,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }
}
