//! The SCIM routes on a real socket, and a raw HTTP/1.1 client for them.
//!
//! The in-process `call!` runs a handler on the test's own thread; over a socket,
//! a handler that panics drops the connection, which is what a real SCIM client
//! would see. Tests of parser robustness go through here so that a panic shows up
//! as "no response", never as a passing test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use serde_json::{Value, json};

use crate::fixture::Env;

/// A running server: its address, stopped on drop.
pub struct Server {
    pub addr: SocketAddr,
    handle: ServerHandle,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Stop without waiting: the runtime is going away with the test.
        drop(self.handle.stop(false));
    }
}

/// Serves the SCIM routes of `env` on 127.0.0.1 with one worker.
pub fn serve(env: &Env) -> Server {
    let data = env.data.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(usher_scim::configure)
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("binds");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Server { addr, handle }
}

/// What came back: a status and a JSON body (`{"raw": ...}` when not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// Sends one request with a bearer token and reads the whole reply. `Err` when the
/// server closed or reset the connection without answering (a panicking handler).
pub async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    token: &str,
    body: Option<Value>,
) -> Result<Reply, String> {
    let head = match &body {
        Some(b) => format!(
            "Content-Type: application/scim+json\r\nContent-Length: {}\r\n",
            b.to_string().len()
        ),
        None => String::new(),
    };
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: usher.test\r\nAuthorization: Bearer {token}\r\n\
         {head}Connection: close\r\n\r\n{}",
        body.map(|b| b.to_string()).unwrap_or_default()
    );
    tokio::task::spawn_blocking(move || exchange(addr, &request))
        .await
        .map_err(|e| format!("client task: {e}"))?
}

fn exchange(addr: SocketAddr, request: &str) -> Result<Reply, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("no response (read: {e})"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no response (got {} bytes)", raw.len()))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let body = serde_json::from_str(body).unwrap_or_else(|_| json!({ "raw": body }));
    Ok(Reply { status, body })
}
