//! `serve` on its own, without the binary: a bound listener, a real client, the kernel's
//! shutdown signal; `serve` must flush the last line to the client and return.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use chat_kernel::{Console, Endpoint, Kernel, KernelConfig, StoreSpec, Transport};

const DEADLINE: Duration = Duration::from_secs(10);

#[test]
fn serves_a_session_then_returns_on_shutdown() {
    let config = KernelConfig {
        no_color: true,
        ..KernelConfig::default()
    };
    let store = StoreSpec::Memory.open().unwrap();
    let kernel = Kernel::new(config, store, Console::stdout(false)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let endpoint = Endpoint {
        name: Arc::from("async_std_chat"),
        transport: Transport::Tcp,
        listener,
    };
    let (done_tx, done_rx) = mpsc::channel();
    let server_kernel = kernel.clone();
    std::thread::spawn(move || {
        let _ = done_tx.send(chat_async_std::serve(server_kernel, vec![endpoint]));
    });

    // The listener is bound already: the connection waits in its backlog until accepted.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut read_line = || {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        line
    };
    assert_eq!(
        read_line(),
        "[SERVER INFO] - Welcome to async_std_chat! Type help for commands.\r\n"
    );
    stream.write_all(b"login alice\r\nwhoami\n").unwrap();
    assert_eq!(read_line(), "[SYSTEM INFO] - [alice] login to chat.\r\n");
    assert_eq!(read_line(), "[INFO] - alice\r\n");

    kernel.shutdown();
    assert_eq!(read_line(), "[SERVER INFO] - server shutting down\r\n");
    assert_eq!(read_line(), "", "closed after the last line");
    let served = done_rx.recv_timeout(DEADLINE).expect("serve returned");
    assert!(served.is_ok(), "{served:?}");
    assert_eq!(kernel.connections(), 0, "the connection was disconnected");
    // Stopped accepting: the listener is gone.
    assert!(TcpStream::connect(addr).is_err());
}
