//! Sockets on async-std: each accepted socket is handed to the async-io reactor and served by
//! [`chat_async_io::spawn_connection`] (TCP) or [`chat_async_io::serve_websocket_connection`]
//! (WebSocket port), the files smol uses too.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;

use async_io::Async;

/// Spawns a TCP connection's tasks on async-std's executor.
pub(crate) struct Tasks;

impl chat_async_io::Spawn for Tasks {
    fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, future: F) {
        // Dropping the handle detaches the task.
        drop(async_std::task::spawn(future));
    }
}

/// Moves an accepted socket into an `async_io::Async` of its own.
///
/// async-std's stream has no readiness API (`readable`, `writable`), which is what lets an
/// idle connection hold no read buffer. async-std runs on the async-io reactor, so the socket
/// is driven by that same reactor.
pub(crate) fn adopt(stream: async_std::net::TcpStream) -> io::Result<Arc<Async<TcpStream>>> {
    let stream = TcpStream::try_from(stream)?;
    Ok(Arc::new(Async::new(stream)?))
}
