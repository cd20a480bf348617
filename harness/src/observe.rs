//! What reached the wire: the requests a mock vendor received (the most recent
//! [`MockConfig::request_log`](crate::MockConfig::request_log) of them) and its counts.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

/// One request as the mock vendor saw it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Headers, names lower-case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The key as the mock read it from the request's auth header (`Bearer` stripped).
    pub credential: Option<String>,
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub body: Value,
    /// The raw body size.
    pub body_bytes: usize,
    /// When it arrived, since the server started.
    pub at: Duration,
}

impl RecordedRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The credential, from whichever header the mock reads it from (`Bearer` stripped).
    pub fn credential(&self) -> Option<&str> {
        self.credential.as_deref()
    }

    /// The model: the body's `model`, or Gemini's `models/{model}:…` path segment.
    pub fn model(&self) -> Option<String> {
        if let Some(m) = self.body.get("model").and_then(Value::as_str) {
            return Some(m.to_owned());
        }
        let rest = self.path.split("/models/").nth(1)?;
        Some(rest.split(':').next()?.to_owned())
    }
}

/// The shared log of one mock vendor. It keeps the most recent `capacity` requests and counts
/// all of them, so a mock used as a long-running server (the upstream of a load test) stays
/// flat in memory however many requests it serves.
#[derive(Debug)]
pub struct Observations {
    started: Instant,
    capacity: usize,
    requests: Mutex<VecDeque<RecordedRequest>>,
    received: AtomicUsize,
    connections: AtomicUsize,
    disconnects: AtomicUsize,
    completed_streams: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Observations {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            capacity,
            requests: Mutex::default(),
            received: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            disconnects: AtomicUsize::new(0),
            completed_streams: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }

    pub(crate) fn since_start(&self) -> Duration {
        self.started.elapsed()
    }

    /// Counts a request and, when the log keeps any, keeps it (dropping the oldest past the
    /// capacity). The record is built only when kept: it copies the body.
    pub(crate) fn record(&self, request: impl FnOnce() -> RecordedRequest) {
        self.received.fetch_add(1, Ordering::SeqCst);
        if self.capacity == 0 {
            return;
        }
        let request = request();
        let mut log = self.requests.lock().expect("log lock");
        if log.len() == self.capacity {
            log.pop_front();
        }
        log.push_back(request);
    }

    pub(crate) fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn stream_dropped(&self, completed: bool) {
        let counter = if completed {
            &self.completed_streams
        } else {
            &self.disconnects
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }

    /// A request is being answered until the returned guard drops (a streamed answer: until
    /// its body ends or the client goes).
    pub(crate) fn answering(self: &Arc<Self>) -> Answering {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Answering(self.clone())
    }

    /// The most requests answered at once so far: what a client's concurrency cap must bound.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Requests being answered now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The requests kept (the most recent, up to the log's capacity), in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .expect("log lock")
            .iter()
            .cloned()
            .collect()
    }

    /// Requests received so far, kept or not.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Streamed answers the client abandoned before their end.
    pub fn disconnects(&self) -> usize {
        self.disconnects.load(Ordering::SeqCst)
    }

    /// Streamed answers delivered to their end.
    pub fn completed_streams(&self) -> usize {
        self.completed_streams.load(Ordering::SeqCst)
    }

    /// Forgets every request and count.
    pub fn clear(&self) {
        self.requests.lock().expect("log lock").clear();
        self.received.store(0, Ordering::SeqCst);
        self.connections.store(0, Ordering::SeqCst);
        self.disconnects.store(0, Ordering::SeqCst);
        self.completed_streams.store(0, Ordering::SeqCst);
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// Counts one request as in flight while it lives.
#[derive(Debug)]
pub(crate) struct Answering(Arc<Observations>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
