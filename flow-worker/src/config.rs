//! The reference worker's configuration (`--config worker.toml`), validated
//! once into [`WorkerConfig`].
//!
//! ```toml
//! listen = "127.0.0.1:50051"
//! default_callback_url = "http://127.0.0.1:8080/flow"
//! default_callback_failover_url = "http://127.0.0.1:8081/flow"   # optional
//! callback_timeout_ms = 3000
//! command_timeout_ms = 5000
//! max_call_secs = 14400
//!
//! [[numbers]]
//! api_no = "+3225550100"
//! callback_url = "http://127.0.0.1:8080/n/3225550100"
//! callback_failover_url = "http://127.0.0.1:8081/n/3225550100"   # optional
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::WorkerError;

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50051))
}
fn default_callback_ms() -> u64 {
    3000
}
fn default_command_ms() -> u64 {
    5000
}
fn default_max_call() -> u64 {
    4 * 3600
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_listen")]
    listen: SocketAddr,
    default_callback_url: Option<String>,
    default_callback_failover_url: Option<String>,
    #[serde(default = "default_callback_ms")]
    callback_timeout_ms: u64,
    #[serde(default = "default_command_ms")]
    command_timeout_ms: u64,
    #[serde(default = "default_max_call")]
    max_call_secs: u64,
    #[serde(default)]
    numbers: Vec<RawNumber>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNumber {
    api_no: String,
    callback_url: String,
    callback_failover_url: Option<String>,
}

/// Where a number's callbacks go, and the one retry target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackTarget {
    pub url: Url,
    pub failover_url: Option<Url>,
}

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub listen: SocketAddr,
    pub default_callback: Option<CallbackTarget>,
    /// Keyed by the number without a leading `+`.
    pub numbers: HashMap<String, CallbackTarget>,
    /// Per HTTP callback attempt.
    pub callback_timeout: Duration,
    /// How long to wait for a `CommandAck`.
    pub command_timeout: Duration,
    /// Hard cap on one call's flow.
    pub max_call: Duration,
}

impl WorkerConfig {
    /// Config for the simple case: one callback URL for every number.
    pub fn simple(listen: SocketAddr, callback_url: &str) -> Result<WorkerConfig, WorkerError> {
        Ok(WorkerConfig {
            listen,
            default_callback: Some(CallbackTarget {
                url: parse_url("--callback-url", "callback_url", callback_url)?,
                failover_url: None,
            }),
            numbers: HashMap::new(),
            callback_timeout: Duration::from_millis(default_callback_ms()),
            command_timeout: Duration::from_millis(default_command_ms()),
            max_call: Duration::from_secs(default_max_call()),
        })
    }

    /// Parses and validates a TOML file's text; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<WorkerConfig, WorkerError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| WorkerError::Config {
            file: file.to_owned(),
            key: String::new(),
            detail: e.to_string(),
        })?;
        let url = |key: &str, v: &str| parse_url(file, key, v);
        let default_callback = match raw.default_callback_url {
            Some(u) => Some(CallbackTarget {
                url: url("default_callback_url", &u)?,
                failover_url: match raw.default_callback_failover_url {
                    Some(f) => Some(url("default_callback_failover_url", &f)?),
                    None => None,
                },
            }),
            None => None,
        };
        let mut numbers = HashMap::new();
        for (i, n) in raw.numbers.into_iter().enumerate() {
            let key = |k: &str| format!("numbers[{i}].{k}");
            let target = CallbackTarget {
                url: url(&key("callback_url"), &n.callback_url)?,
                failover_url: match n.callback_failover_url {
                    Some(f) => Some(url(&key("callback_failover_url"), &f)?),
                    None => None,
                },
            };
            let no = number_key(&n.api_no);
            if no.is_empty() || numbers.insert(no.to_owned(), target).is_some() {
                return Err(WorkerError::Config {
                    file: file.to_owned(),
                    key: key("api_no"),
                    detail: format!("{:?} is empty or listed twice", n.api_no),
                });
            }
        }
        let positive = |key: &str, v: u64| {
            if v == 0 {
                Err(WorkerError::Config {
                    file: file.to_owned(),
                    key: key.to_owned(),
                    detail: "must be greater than 0".into(),
                })
            } else {
                Ok(v)
            }
        };
        Ok(WorkerConfig {
            listen: raw.listen,
            default_callback,
            numbers,
            callback_timeout: Duration::from_millis(positive(
                "callback_timeout_ms",
                raw.callback_timeout_ms,
            )?),
            command_timeout: Duration::from_millis(positive(
                "command_timeout_ms",
                raw.command_timeout_ms,
            )?),
            max_call: Duration::from_secs(positive("max_call_secs", raw.max_call_secs)?),
        })
    }

    /// The number's callback target, else the default.
    pub fn target_for(&self, api_no: &str) -> Option<&CallbackTarget> {
        self.numbers
            .get(number_key(api_no))
            .or(self.default_callback.as_ref())
    }
}

fn number_key(no: &str) -> &str {
    no.trim().trim_start_matches('+')
}

/// Only `http://`: the worker's HTTP client is built without TLS.
fn parse_url(file: &str, key: &str, v: &str) -> Result<Url, WorkerError> {
    let err = |detail: String| WorkerError::Config {
        file: file.to_owned(),
        key: key.to_owned(),
        detail,
    };
    let u = Url::parse(v).map_err(|e| err(format!("{v:?}: {e}")))?;
    if u.scheme() != "http" {
        return Err(err(format!(
            "{v:?}: only http:// callbacks are supported (no TLS in this build)"
        )));
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_override_the_default_and_match_with_or_without_plus() {
        let cfg = WorkerConfig::from_toml(
            r#"
            listen = "127.0.0.1:6000"
            default_callback_url = "http://127.0.0.1:1/d"
            callback_timeout_ms = 250
            [[numbers]]
            api_no = "+3225550100"
            callback_url = "http://127.0.0.1:1/n"
            callback_failover_url = "http://127.0.0.1:2/f"
            "#,
            "w.toml",
        )
        .unwrap();
        assert_eq!(cfg.listen.port(), 6000);
        assert_eq!(cfg.callback_timeout, Duration::from_millis(250));
        let t = cfg.target_for("3225550100").unwrap();
        assert_eq!(t.url.path(), "/n");
        assert_eq!(t.failover_url.as_ref().unwrap().port(), Some(2));
        assert_eq!(cfg.target_for("+999").unwrap().url.path(), "/d");
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let e = WorkerConfig::from_toml(
            "[[numbers]]\napi_no = \"1\"\ncallback_url = \"https://x/\"\n",
            "w.toml",
        )
        .unwrap_err();
        assert_eq!(e.name(), "worker:config");
        let s = e.to_string();
        assert!(
            s.contains("w.toml") && s.contains("numbers[0].callback_url"),
            "{s}"
        );
        let e = WorkerConfig::from_toml("bogus = 1\n", "w.toml").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = WorkerConfig::from_toml(
            "[[numbers]]\napi_no = \"+1\"\ncallback_url = \"http://x/\"\n[[numbers]]\napi_no = \"1\"\ncallback_url = \"http://y/\"\n",
            "w.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("numbers[1].api_no"), "{e}");
    }
}
