//! What the unit tests share: a kernel, and a socket accepted from a client on loopback.

use std::future::Future;
use std::net::SocketAddr;

use chat_kernel::{Console, Kernel, KernelConfig, StoreSpec};
use tokio::net::TcpStream;

/// Runs `test` on a current-thread runtime with an in-memory kernel and the server's side of a
/// loopback connection (its client stays open until `test` is done).
pub(crate) fn with_accepted<F: Future<Output = ()>>(
    test: impl FnOnce(Kernel, TcpStream, SocketAddr) -> F,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = StoreSpec::Memory.open().expect("store");
        let kernel =
            Kernel::new(KernelConfig::default(), store, Console::stdout(false)).expect("kernel");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _client = std::net::TcpStream::connect(addr).expect("connect");
        let (socket, peer) = listener.accept().await.expect("accept");
        test(kernel, socket, peer).await;
    });
}
