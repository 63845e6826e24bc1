//! A real HTTP/1.1 server on 127.0.0.1 that plays scripted responses in order, like an LLM
//! API under stress, and logs the requests it got.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// One scripted response.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Canned {
    pub fn new(status: u16) -> Self {
        Canned {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_string();
        self
    }

    /// A JSON error envelope with this type, and a request id (header and body).
    pub fn api_error(status: u16, error_type: &str, request_id: &str) -> Self {
        Canned::new(status)
            .header("content-type", "application/json")
            .header("request-id", request_id)
            .body(&format!(
                r#"{{"type":"error","error":{{"type":"{error_type}","message":"scripted"}},"request_id":"{request_id}"}}"#
            ))
    }

    /// A 200 event stream with this body.
    pub fn sse(body: &str) -> Self {
        Canned::new(200)
            .header("content-type", "text/event-stream")
            .body(body)
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: http::Method,
    pub path: String,
    pub body: Bytes,
}

pub struct Server {
    pub addr: SocketAddr,
    script: Arc<Mutex<VecDeque<Canned>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Starts serving `script` on a free loopback port; once the script is played, every
    /// request gets a 200 with the body "done".
    pub async fn start(script: Vec<Canned>) -> Server {
        Server::serve(script, false).await
    }

    /// Starts serving `script` on a free loopback port, over and over: the response after
    /// the last is the first again.
    pub async fn repeating(script: Vec<Canned>) -> Server {
        Server::serve(script, true).await
    }

    async fn serve(script: Vec<Canned>, repeat: bool) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound");
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, l) = (script.clone(), seen.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (script, seen) = (s.clone(), l.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let (script, seen) = (script.clone(), seen.clone());
                        async move { Ok::<_, Infallible>(answer(req, &script, &seen, repeat).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Server {
            addr,
            script,
            seen,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests served so far.
    pub fn hits(&self) -> usize {
        self.seen.lock().expect("not poisoned").len()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("not poisoned").clone()
    }

    /// Scripted responses not yet played.
    pub fn left(&self) -> usize {
        self.script.lock().expect("not poisoned").len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    req: Request<Incoming>,
    script: &Mutex<VecDeque<Canned>>,
    seen: &Mutex<Vec<Seen>>,
    repeat: bool,
) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    seen.lock()
        .expect("not poisoned")
        .push(Seen { method, path, body });
    let canned = {
        let mut script = script.lock().expect("not poisoned");
        let canned = script.pop_front();
        if let (true, Some(c)) = (repeat, &canned) {
            script.push_back(c.clone());
        }
        canned.unwrap_or_else(|| Canned::new(200).body("done"))
    };
    let mut response = Response::builder().status(canned.status);
    for (k, v) in &canned.headers {
        response = response.header(k, v);
    }
    response
        .body(Full::new(Bytes::from(canned.body)))
        .expect("valid scripted response")
}

/// A loopback address where nothing listens: connecting is refused. Port 1 (tcpmux), which
/// nothing on a test machine serves and no test binds; a port the OS hands out as free
/// and that is closed again could be taken by another test's server before the caller
/// connects.
pub async fn closed_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 1))
}
