//! TLS hooks of the call layer: which name a TLS peer's certificate must carry.

use super::hub::CallHub;

/// `[tls] trunk_client_names`: an outbound trunk tied to a client-certificate name
/// admits the INVITE only when it came over TLS with a verified certificate valid for
/// that name; otherwise `auth_failed` (403), as for a source the trunk does not admit.
pub(crate) fn check_client_cert(
    hub: &CallHub,
    config: &crate::config::Config,
    admitted: crate::policy::Admitted,
    meta: &super::hub::Arrival,
) -> Result<crate::policy::Admitted, crate::policy::Rejection> {
    let id = admitted.trunk.trunk_id;
    let mut names = config
        .tls_client_names
        .iter()
        .filter(|(t, _)| *t == id)
        .peekable();
    if names.peek().is_none() {
        return Ok(admitted);
    }
    let Some(t) = hub.transports() else {
        return Err(crate::policy::Rejection::AuthFailed);
    };
    if names.any(|(_, name)| t.tls_client_valid_for(meta.conn, name)) {
        Ok(admitted)
    } else {
        Err(crate::policy::Rejection::AuthFailed)
    }
}
