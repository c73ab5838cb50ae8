//! The management REST API as the tests call it: a client holding the
//! gateway's address and a key, the spec's error body, and paging through
//! the call log.

use std::future::Future;
use std::net::SocketAddr;

use reqwest::Method;
use serde_json::Value;

use super::{Gw, WAIT};

/// A REST client for one gateway.
pub struct Api {
    base: String,
    key: Option<String>,
    client: reqwest::Client,
    curl: bool,
}

impl Api {
    /// Requests with the API key `key` (none: unauthenticated).
    pub fn new(gw: &Gw, key: Option<&str>) -> Api {
        Api::at(gw.http, key)
    }

    /// [`Api::new`] for the gateway whose HTTP listener is `http` (one run
    /// as a child process, say).
    pub fn at(http: SocketAddr, key: Option<&str>) -> Api {
        Api {
            base: format!("http://{http}"),
            key: key.map(str::to_string),
            client: reqwest::Client::builder()
                .timeout(WAIT)
                .build()
                .expect("http client"),
            curl: false,
        }
    }

    /// Requests as the spec's curl examples send them (`Cache-Control` and
    /// `Content-Type: application/json` on every request), and every
    /// non-empty reply checked to be `application/json`.
    pub fn like_curl(mut self) -> Api {
        self.curl = true;
        self
    }

    /// `method` on `path` (used verbatim) with `body` of content type `ct`;
    /// the status and the JSON reply (`Null` when empty; other text fails).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        ct: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut rb = self.client.request(method, format!("{}{path}", self.base));
        if self.curl {
            rb = rb.header("Cache-Control", "no-cache");
        }
        if let Some(k) = &self.key {
            rb = rb.header("X-API-Key", k);
        }
        if let Some(ct) = ct {
            rb = rb.header("Content-Type", ct);
        }
        if !body.is_empty() {
            rb = rb.body(body);
        }
        let r = rb.send().await.expect("http request");
        let status = r.status().as_u16();
        let reply_ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or_default().to_string());
        let text = r.text().await.expect("reply body");
        if text.is_empty() {
            return (status, Value::Null);
        }
        if self.curl {
            assert_eq!(
                reply_ct.as_deref(),
                Some("application/json"),
                "{status} {text}"
            );
        }
        let v =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, v)
    }

    /// A request with a JSON body (if any).
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let ct = (self.curl || body.is_some()).then_some("application/json");
        let bytes = body
            .map(|b| serde_json::to_vec(&b).expect("JSON body"))
            .unwrap_or_default();
        self.raw(method, path, ct, bytes).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, b: Value) -> (u16, Value) {
        self.send(Method::POST, path, Some(b)).await
    }

    pub async fn put(&self, path: &str, b: Value) -> (u16, Value) {
        self.send(Method::PUT, path, Some(b)).await
    }

    pub async fn delete(&self, path: &str, b: Option<Value>) -> (u16, Value) {
        self.send(Method::DELETE, path, b).await
    }

    /// `GET /v1/Trunks/{id}`.
    pub async fn trunk(&self, id: &str) -> (u16, Value) {
        self.get(&format!("/v1/Trunks/{id}")).await
    }

    /// `POST /v1/PhoneNumbers/Trunks/{id}`: assigns number `no` to trunk `id`.
    pub async fn assign(&self, id: &str, no: &str) -> (u16, Value) {
        let body = serde_json::json!({ "phone_numbers": [ { "no": no } ] });
        self.post(&format!("/v1/PhoneNumbers/Trunks/{id}"), body)
            .await
    }

    /// `DELETE /v1/PhoneNumbers/Trunks/{id}`: releases number `no` from trunk `id`.
    pub async fn release(&self, id: &str, no: &str) -> (u16, Value) {
        let body = serde_json::json!({ "phone_numbers": [ { "no": no } ] });
        self.delete(&format!("/v1/PhoneNumbers/Trunks/{id}"), Some(body))
            .await
    }

    /// `PUT /v1/Trunks/{id}` with `b`.
    pub async fn put_trunk(&self, id: &str, b: Value) -> (u16, Value) {
        self.put(&format!("/v1/Trunks/{id}"), b).await
    }
}

/// The string `field` of each object in the JSON array `list` (every one
/// must have it).
pub fn each<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|x| {
            x[field]
                .as_str()
                .unwrap_or_else(|| panic!("no {field} in {x}"))
        })
        .collect()
}

/// Asserts the spec's error body with this status and code; returns the message.
pub fn api_error(r: &(u16, Value), status: u16, code: u64) -> String {
    assert_eq!(r.0, status, "{}", r.1);
    assert_eq!(r.1["code"], code, "{}", r.1);
    assert_eq!(r.1["status"], status, "{}", r.1);
    for k in ["ref_id", "message", "help", "user_message"] {
        assert!(
            r.1[k].as_str().is_some_and(|s| !s.is_empty()),
            "{k} in {}",
            r.1
        );
    }
    r.1["message"].as_str().unwrap_or_default().to_string()
}

/// Asserts a validation error (400, code 400001); returns the message.
pub fn invalid(r: &(u16, Value)) -> String {
    api_error(r, 400, 400_001)
}

/// Asserts "not found" (404, code 404002); returns the message.
pub fn not_found(r: &(u16, Value)) -> String {
    api_error(r, 404, 404_002)
}

/// Asserts a validation error (400, code 400001) whose message names
/// `field` first (`<field>: …`); returns the message.
pub fn bad_field(r: &(u16, Value), field: &str) -> String {
    let msg = api_error(r, 400, 400_001);
    assert!(msg.starts_with(&format!("{field}: ")), "{msg}");
    msg
}

/// Every call-log record's call_id, paging through
/// `GET /v1/History/Logs/Calls` with `get` (a path in, status and JSON out);
/// `next_block_uri` may be a path or an absolute URL on the same host.
pub async fn logged_call_ids<F, Fut>(mut get: F) -> Vec<String>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = (u16, Value)>,
{
    let mut ids = Vec::new();
    let mut path = "/v1/History/Logs/Calls".to_string();
    for _ in 0..50 {
        let (s, v) = get(path.clone()).await;
        assert_eq!(s, 200, "{v}");
        for c in v["logs"].as_array().expect("logs") {
            ids.push(c["call_id"].as_str().unwrap_or_default().to_string());
        }
        match v["next_block_uri"].as_str() {
            Some(next) => {
                path = match next.find("/v1/") {
                    Some(i) => next[i..].to_string(),
                    None => next.to_string(),
                }
            }
            None => break,
        }
    }
    ids
}
