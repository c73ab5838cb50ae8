//! Keeps this node's routing snapshot on the shared store: a dedicated
//! connection LISTENs on [`super::CHANNEL`]; each notification (a commit on
//! any node, coalesced while a reload runs) reloads the whole set and swaps
//! the snapshot if it differs. A full reload also runs every
//! [`RELOAD_EVERY`] (a missed notification cannot leave a node stale for
//! longer) and after every reconnect. While the server is unreachable the
//! node routes on its last snapshot and tries again every [`RETRY`].

use std::sync::Weak;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};

use super::{PgStore, CHANNEL};
use crate::config::{Number, Trunk};
use crate::store::{StoreError, TrunkSet};

/// Who routes on the followed set (the call layer's hub; the gateway wires
/// it in, so the store does not import the layer above it).
pub trait Routing: Send + Sync + 'static {
    /// Swaps the routing snapshot for one built from `trunks` and `numbers`.
    fn replace_routing(&self, trunks: Vec<Trunk>, numbers: Vec<Number>);
}

/// The safety net: a full reload this often even without a notification.
pub const RELOAD_EVERY: Duration = Duration::from_secs(30);
/// Reconnect attempts while the server is unreachable.
const RETRY: Duration = Duration::from_secs(1);

/// Runs until the hub is gone (the gateway stopped). `applied` is the set
/// the snapshot was built from at start.
pub async fn follow<R: Routing>(store: PgStore, hub: Weak<R>, applied: TrunkSet) {
    let mut last = Some(applied);
    loop {
        match listen(&store).await {
            Ok((client, mut notes)) => {
                store.health().set(true);
                // A change may have been committed while nobody listened.
                if !refresh(&store, &hub, &mut last).await {
                    return;
                }
                loop {
                    tokio::select! {
                        n = notes.recv() => if n.is_none() { break },
                        _ = tokio::time::sleep(RELOAD_EVERY) => {}
                    }
                    if !refresh(&store, &hub, &mut last).await {
                        return;
                    }
                }
                drop(client);
                store.health().set(false);
            }
            Err(e) => {
                tracing::debug!(error = %e, kind = e.name(), "postgres listen connection failed");
                store.health().set(false);
                if hub.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Opens the listening connection. Its driver task forwards notifications
/// into a one-slot channel (several commits during one reload cost one
/// more reload) and drops the sender when the connection ends.
async fn listen(store: &PgStore) -> Result<(Client, mpsc::Receiver<()>), StoreError> {
    let (client, mut conn) = store.config().connect(NoTls).await?;
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => {
                    let _ = tx.try_send(());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "postgres listen connection ended");
                    break;
                }
                None => break,
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    Ok((client, rx))
}

/// Reloads the set and swaps the snapshot when it changed. False when the
/// hub is gone.
async fn refresh<R: Routing>(store: &PgStore, hub: &Weak<R>, last: &mut Option<TrunkSet>) -> bool {
    let Some(hub) = hub.upgrade() else {
        return false;
    };
    let _gate = store.routing_gate().lock().await;
    match store.load().await {
        Ok(set) if last.as_ref() != Some(&set) => {
            let (trunks, numbers) = set.routing();
            hub.replace_routing(trunks, numbers);
            tracing::debug!(
                trunks = set.trunks.len(),
                numbers = set.numbers.len(),
                "routing snapshot reloaded from postgres"
            );
            *last = Some(set);
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, kind = e.name(), "postgres reload failed"),
    }
    true
}
