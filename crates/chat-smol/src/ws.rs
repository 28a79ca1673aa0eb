//! The size of a WebSocket connection's task on smol.
//!
//! The connection itself (the request head, the page, the upgrade, the session and the
//! linger) is [`chat_async_io::serve_websocket_connection`], which async-std uses too: both run
//! on the async-io reactor, whose timer and turn the session uses.

use chat_kernel::{Console, Kernel, KernelConfig, StoreSpec};
use chat_web::Page;
use std::net;
use std::sync::Arc;

/// The largest connection future whose task fits the allocator's (jemalloc's) 2,048-byte
/// block: smol's task adds async-task's header (32 bytes), the schedule closure (8) and
/// async-executor's clean-up (16). It was an `async fn` awaited by the accept loop's block,
/// 2,656 bytes, a 2,712-byte task in a 3,072-byte block.
const MAX_FUTURE: usize = 2048 - 56;

#[test]
fn the_connection_future_fits_a_2_kib_block() {
    smol::block_on(async {
        let store = StoreSpec::Memory.open().expect("store");
        let kernel =
            Kernel::new(KernelConfig::default(), store, Console::stdout(false)).expect("kernel");
        let listener = smol::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _client = net::TcpStream::connect(addr).expect("connect");
        let (stream, peer) = listener.accept().await.expect("accept");
        let name: Arc<str> = Arc::from("smol_ws_chat");
        let page = Arc::new(Page::new(&name));
        // The guard the accept loop passes.
        let guard = async_channel::bounded::<()>(1).0;
        let future = chat_async_io::serve_websocket_connection(
            kernel,
            name,
            stream.into(),
            peer,
            page,
            guard,
        );
        let size = std::mem::size_of_val(&future);
        assert!(
            size <= MAX_FUTURE,
            "a WebSocket connection's future is {size} bytes, over {MAX_FUTURE}: each \
             connection's task moves to the allocator's next block (2,560 bytes)"
        );
    });
}
