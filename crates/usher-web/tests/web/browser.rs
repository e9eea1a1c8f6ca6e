//! A tiny browser: keeps cookies, sends forms, reads pages.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::test::{self, TestRequest};

use super::env::TestApp;

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub set_cookies: Vec<Cookie<'static>>,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn cookie(&self, name: &str) -> Option<&Cookie<'static>> {
        self.set_cookies.iter().find(|c| c.name() == name)
    }

    /// The value of a hidden form field.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')?;
        Some(self.body[start..start + end].to_owned())
    }

    pub fn csrf(&self) -> String {
        self.field("csrf").expect("the page has a CSRF field")
    }
}

#[derive(Default)]
pub struct Browser {
    pub cookies: BTreeMap<String, String>,
    pub peer: Option<SocketAddr>,
    pub headers: Vec<(String, String)>,
    /// Headers with bytes that are not text (what a client may send and a proxy
    /// pass along).
    pub raw_headers: Vec<(String, Vec<u8>)>,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            peer: Some("203.0.113.7:50000".parse().expect("addr")),
            ..Self::default()
        }
    }

    pub fn from(ip: &str) -> Self {
        Self {
            peer: Some(format!("{ip}:50000").parse().expect("addr")),
            ..Self::default()
        }
    }

    fn prepare(&self, mut req: TestRequest) -> TestRequest {
        for (name, value) in &self.cookies {
            req = req.cookie(Cookie::new(name.clone(), value.clone()));
        }
        if let Some(peer) = self.peer {
            req = req.peer_addr(peer);
        }
        for (name, value) in &self.headers {
            req = req.insert_header((name.as_str(), value.as_str()));
        }
        for (name, value) in &self.raw_headers {
            let value = actix_web::http::header::HeaderValue::from_bytes(value).expect("a value");
            req = req.insert_header((name.as_str(), value));
        }
        req
    }

    pub async fn send(&mut self, app: &TestApp, req: TestRequest) -> Page {
        let response = (app.0)(self.prepare(req)).await;
        let status = response.status();
        let headers = response.headers().clone();
        let set_cookies: Vec<Cookie<'static>> = headers
            .get_all(header::SET_COOKIE)
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| Cookie::parse(v.to_owned()).ok())
            .collect();
        for cookie in &set_cookies {
            let removed = cookie.max_age().is_some_and(|a| a.is_zero());
            if removed {
                self.cookies.remove(cookie.name());
            } else {
                self.cookies
                    .insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        let bytes = test::read_body(response).await;
        Page {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            set_cookies,
        }
    }

    pub async fn get(&mut self, app: &TestApp, path: &str) -> Page {
        self.send(app, TestRequest::get().uri(path)).await
    }

    pub async fn post(&mut self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(app, TestRequest::post().uri(path).set_form(form))
            .await
    }

    pub fn session(&self) -> Option<&str> {
        self.cookies
            .get(usher_core::SESSION_COOKIE)
            .map(String::as_str)
    }
}

/// Percent-decodes a query value.
pub fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("utf8");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf8")
}
