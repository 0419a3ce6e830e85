//! A scriptable HTTP server for tests: each path answers from a list of responses (the last one
//! repeats), and every request is counted. Runs on its own thread on 127.0.0.1:0.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    /// Never answer (the client's timeout ends it).
    pub hang: bool,
    /// Answer with the request itself as JSON: `{"query": "…", "headers": {"name": "value"}}`
    /// (a receiver that echoes what it got, credentials included).
    pub echo: bool,
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            body: String::new(),
            headers: Vec::new(),
            hang: false,
            echo: false,
        }
    }

    /// 200 with the request's query and headers as JSON.
    pub fn echo() -> Self {
        Self {
            echo: true,
            ..Self::json(200, "")
        }
    }

    pub fn json(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.to_string(),
            headers: vec![("content-type".into(), "application/json".into())],
            hang: false,
            echo: false,
        }
    }

    pub fn hang() -> Self {
        Self {
            hang: true,
            ..Self::status(200)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// (method, path, headers, body) of one request.
pub type Seen = (String, String, Vec<(String, String)>, String);

#[derive(Default)]
struct State {
    routes: HashMap<String, Vec<Answer>>,
    hits: HashMap<String, usize>,
    requests: Vec<Seen>,
}

pub struct TestServer {
    pub url: String,
    state: Arc<Mutex<State>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl TestServer {
    /// `routes`: path → answers in order (the last repeats). Unknown paths answer 404.
    pub fn start(routes: &[(&str, Vec<Answer>)]) -> Self {
        let state = Arc::new(Mutex::new(State {
            routes: routes
                .iter()
                .map(|(p, a)| (p.to_string(), a.clone()))
                .collect(),
            ..State::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let state = shared.clone();
                            tokio::spawn(async move {
                                let service = service_fn(move |req| answer(state.clone(), req));
                                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                            });
                        }
                        _ = &mut rx => break,
                    }
                }
            });
        });
        Self {
            url,
            state,
            _shutdown: tx,
        }
    }

    pub fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn total_hits(&self) -> usize {
        self.state.lock().unwrap().hits.values().sum()
    }

    /// (method, path, headers, body) of every request, in arrival order.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().requests.clone()
    }
}

async fn answer(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    use http_body_util::BodyExt;
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let echoed_headers = headers.clone();
    let chosen = {
        let mut s = state.lock().unwrap();
        s.requests.push((
            method,
            path.clone(),
            headers.clone(),
            String::from_utf8_lossy(&body).into_owned(),
        ));
        let n = *s
            .hits
            .entry(path.clone())
            .and_modify(|h| *h += 1)
            .or_insert(1);
        s.routes
            .get(&path)
            .map(|answers| answers[(n - 1).min(answers.len() - 1)].clone())
    };
    let mut answer = chosen.unwrap_or_else(|| Answer::status(404));
    if answer.echo {
        let headers: serde_json::Map<String, serde_json::Value> = echoed_headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        answer.body = serde_json::json!({"query": query, "headers": headers}).to_string();
    }
    if answer.hang {
        // Never answer: the client's timeout (or its going away) ends the exchange.
        std::future::pending::<()>().await;
    }
    let mut response = Response::builder().status(answer.status);
    for (k, v) in &answer.headers {
        response = response.header(k, v);
    }
    Ok(response.body(Full::new(Bytes::from(answer.body))).unwrap())
}
