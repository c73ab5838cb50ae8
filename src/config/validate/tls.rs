//! `[tls]` rules: certificate and key given together and loadable, `client_auth`,
//! the handshake timeout; a `tls` listener needs a certificate; `tls_server_name` of
//! carriers.

use std::path::PathBuf;
use std::time::Duration;

use super::Errors;
use crate::config::raw::{RawCarrier, RawTls};
use crate::config::{Listen, Transport};
use crate::transport::{ClientAuth, TlsContext, TlsError, TlsSettings};

pub(super) fn validate_tls(
    e: &mut Errors,
    raw: Option<&RawTls>,
    listen: &[Listen],
    carriers: &[RawCarrier],
) -> TlsSettings {
    let empty = RawTls::default();
    let raw = raw.unwrap_or(&empty);
    let mut s = TlsSettings {
        handshake_timeout: Duration::from_secs(5),
        ..TlsSettings::default()
    };
    let path = |e: &mut Errors, key: &str, v: &Option<String>| -> Option<PathBuf> {
        let v = v.as_ref()?;
        if v.trim().is_empty() {
            e.add(key, "must not be empty");
            return None;
        }
        Some(PathBuf::from(v))
    };
    s.cert_file = path(e, "tls.cert_file", &raw.cert_file);
    s.key_file = path(e, "tls.key_file", &raw.key_file);
    s.ca_file = path(e, "tls.ca_file", &raw.ca_file);
    match raw.client_auth.as_deref() {
        None | Some("none") => {}
        Some("optional") => s.client_auth = ClientAuth::Optional,
        Some("required") => s.client_auth = ClientAuth::Required,
        Some(other) => e.add(
            "tls.client_auth",
            format!("must be \"none\", \"optional\" or \"required\" (got {other:?})"),
        ),
    }
    if let Some(ms) = raw.handshake_timeout_ms {
        e.range("tls.handshake_timeout_ms", ms, 100, 60_000);
        s.handshake_timeout = Duration::from_millis(ms);
    }
    match (&s.cert_file, &s.key_file) {
        (Some(_), None) => e.add("tls.key_file", "required when tls.cert_file is set"),
        (None, Some(_)) => e.add("tls.cert_file", "required when tls.key_file is set"),
        _ => {}
    }
    for (i, l) in listen.iter().enumerate() {
        if l.transport == Transport::Tls && s.cert_file.is_none() {
            e.add(
                format!("sip.listen[{i}].transport"),
                "a tls listener needs [tls] cert_file and key_file",
            );
        }
    }
    for (i, c) in carriers.iter().enumerate() {
        let Some(name) = &c.tls_server_name else {
            continue;
        };
        let key = format!("carriers[{i}].tls_server_name");
        if c.transport != Transport::Tls {
            e.add(key, "only meaningful with transport = \"tls\"");
        } else if rustls_pki_types::ServerName::try_from(name.as_str()).is_err() {
            e.add(
                key,
                format!("must be a DNS name or IP address (got {name:?})"),
            );
        }
    }
    // Load the files now, so a wrong path or a key that does not match the
    // certificate is refused at start with the key that names it.
    if let Err(err) = TlsContext::load(s.clone()) {
        let key = match &err {
            TlsError::File { path, .. } if Some(path.as_str()) == raw.cert_file.as_deref() => {
                "tls.cert_file"
            }
            TlsError::File { path, .. } if Some(path.as_str()) == raw.ca_file.as_deref() => {
                "tls.ca_file"
            }
            TlsError::Verifier(_) => "tls.ca_file",
            _ => "tls.key_file",
        };
        e.add(key, err.to_string());
    }
    s
}

/// `[tls] trunk_client_names`: `{ trunk_id, name }`; tying a trunk to a client
/// certificate only makes sense when client certificates are asked for.
pub(super) fn validate_trunk_names(
    e: &mut Errors,
    raw: Option<&RawTls>,
    s: &TlsSettings,
) -> Vec<(uuid::Uuid, String)> {
    let mut out = Vec::new();
    let Some(raw) = raw else { return out };
    for (i, t) in raw.trunk_client_names.iter().enumerate() {
        let key = format!("tls.trunk_client_names[{i}]");
        let Ok(id) = t.trunk_id.parse::<uuid::Uuid>() else {
            e.add(
                format!("{key}.trunk_id"),
                format!("must be a UUID (got {:?})", t.trunk_id),
            );
            continue;
        };
        if t.name.len() > 253 || rustls_pki_types::ServerName::try_from(t.name.as_str()).is_err() {
            e.add(
                format!("{key}.name"),
                format!("must be a DNS name or IP address (got {:?})", t.name),
            );
            continue;
        }
        out.push((id, t.name.clone()));
    }
    if !out.is_empty() && s.client_auth == ClientAuth::None {
        e.add(
            "tls.trunk_client_names",
            "needs client_auth = \"optional\" or \"required\"",
        );
    }
    out
}
