//! Errors of the resolve layer.

use thiserror::Error;

/// Why a destination could not be parsed or resolved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResolveError {
    /// The destination string is not a host[:port] or a SIP URI.
    #[error("bad destination {input:?}: {reason}")]
    BadDestination { input: String, reason: &'static str },
    /// A scheme or transport this gateway does not speak (`sips:`, TLS, SCTP, WS).
    #[error("unsupported destination {input:?}: {what}")]
    Unsupported { input: String, what: &'static str },
    /// DNS answered, but no usable NAPTR/SRV/A/AAAA record leads to a target.
    #[error("no DNS records for {name}")]
    NoRecords { name: String },
    /// The resolution did not finish within its time budget.
    #[error("DNS resolution of {name} timed out")]
    Timeout { name: String },
    /// A DNS failure other than "no such records" (SERVFAIL, REFUSED, network error).
    #[error("DNS lookup of {name} failed: {message}")]
    Dns { name: String, message: String },
    /// The resolver could not be built (e.g. unreadable `/etc/resolv.conf`).
    #[error("resolver configuration: {message}")]
    Config { message: String },
}

impl ResolveError {
    /// Static label for metrics and call logs.
    pub fn name(&self) -> &'static str {
        match self {
            ResolveError::BadDestination { .. } => "bad_destination",
            ResolveError::Unsupported { .. } => "unsupported",
            ResolveError::NoRecords { .. } => "no_records",
            ResolveError::Timeout { .. } => "timeout",
            ResolveError::Dns { .. } => "dns_error",
            ResolveError::Config { .. } => "config",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_static_labels() {
        let cases = [
            (
                ResolveError::BadDestination {
                    input: "x".into(),
                    reason: "r",
                },
                "bad_destination",
            ),
            (
                ResolveError::Unsupported {
                    input: "x".into(),
                    what: "w",
                },
                "unsupported",
            ),
            (ResolveError::NoRecords { name: "n".into() }, "no_records"),
            (ResolveError::Timeout { name: "n".into() }, "timeout"),
            (
                ResolveError::Dns {
                    name: "n".into(),
                    message: "m".into(),
                },
                "dns_error",
            ),
            (
                ResolveError::Config {
                    message: "m".into(),
                },
                "config",
            ),
        ];
        for (err, label) in cases {
            assert_eq!(err.name(), label);
        }
    }
}
