//! The admin API's shared state: what every handler reaches.

use crate::model::Snapshot;
use crate::registrar::Location;
use crate::store::Store;
use arc_swap::ArcSwap;
use std::sync::Arc;

#[derive(Clone)]
pub struct Api {
    pub store: Arc<Store>,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub location: Arc<Location>,
    pub b2bua: Arc<crate::b2bua::B2bua>,
    pub auth: Arc<super::auth::Auth>,
    /// `[api] names`: host names accepted besides the listener's own address.
    pub names: Arc<Vec<String>>,
    /// The TLS listeners' certificate, when there are any.
    pub tls: Option<Arc<crate::sip::tls::Tls>>,
    /// Model changes one at a time (the snapshot swapped with each commit).
    pub models: Arc<crate::models::Models>,
    /// What validation must know of this server (a GeoIP database or not).
    pub provision: crate::provision::Context,
    /// Bindings removed through the API are deleted from the store by the writer.
    pub writer: crate::store::writer::Writer,
    /// `GET /metrics` (Prometheus text).
    pub metrics: Arc<crate::metrics::Metrics>,
}
