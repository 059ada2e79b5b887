//! `GET /metrics`: what the layers count, in the Prometheus text exposition format (0.0.4),
//! behind the admin API's credentials. Every name and label is listed in
//! `docs/operations.md`; `docs/grafana-dashboard.json` graphs them.
//!
//! Nothing here runs per packet or per request. Each layer owns its counters as lock-free
//! atomics — `sip::stats` (requests, responses, TLS handshakes), `registrar::stats`,
//! `auth::ban` and `auth::pike`, `b2bua::stats` (calls, setup time), the store writer's
//! `WriterStats` (commits, queue, call records), the relay threads' own `Traffic`, the
//! probed peers' state (`qualify`) — and
//! this file only reads them, at scrape time, through one `Collector`; values that were
//! already kept (bindings, relay port pairs, the relay's drops) are read where they are.
//! `prometheus-client` writes the text (names, escaping, histogram series).

use crate::auth::pike::Pike;
use crate::b2bua::B2bua;
use crate::stats::Snapshot;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt;
use std::sync::Arc;

/// The exporter: a registry whose one collector reads the running server's counters.
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    pub fn new(b2bua: Arc<B2bua>, pike: Arc<Pike>) -> Metrics {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Server { b2bua, pike }));
        Metrics { registry }
    }

    /// The exposition, as of now.
    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The handler of `GET /metrics`.
pub async fn scrape(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.render() {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// What is read at each scrape.
struct Server {
    b2bua: Arc<B2bua>,
    pike: Arc<Pike>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("vozbox metrics")
    }
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

/// A counter with one series per label set.
fn counters<L: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        m.encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
    }
    Ok(())
}

/// A gauge with one series per label set.
fn gauges<L: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, i64)>,
) -> fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in rows {
        m.encode_family(&labels)?.encode_gauge(&v)?;
    }
    Ok(())
}

fn histogram(e: &mut DescriptorEncoder, name: &str, help: &str, s: &Snapshot) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(s.sum, s.count, &s.buckets, None)
}

fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Collector for Server {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let e = &mut e;
        let b2bua = &self.b2bua;
        let registrar = &b2bua.registrar;
        let sip = &b2bua.out.transports.stats;

        // Registrations and authentication.
        gauge(
            e,
            "vozbox_registrations",
            "Bindings (registered contacts) in the location service",
            int(registrar.location.len()),
        )?;
        counter(
            e,
            "vozbox_registrations_accepted",
            "REGISTER requests answered 200 OK",
            registrar.stats.accepted_total(),
        )?;
        counters(
            e,
            "vozbox_registrations_refused",
            "REGISTER requests not answered 200, by cause (challenge: the first 401 of a registration)",
            registrar
                .stats
                .refused_totals()
                .into_iter()
                .map(|(cause, n)| ([("cause", cause)], n)),
        )?;
        let bans = &registrar.bans;
        counter(
            e,
            "vozbox_auth_failures",
            "Digest authentications that failed (REGISTER and calls)",
            bans.failures(),
        )?;
        counter(
            e,
            "vozbox_auth_bans",
            "Addresses banned after repeated authentication failures",
            bans.bans(),
        )?;
        gauge(
            e,
            "vozbox_auth_banned_addresses",
            "Addresses banned now",
            int(bans.banned()),
        )?;
        counter(
            e,
            "vozbox_pike_blocks",
            "Times a source went over [sip] rate_limit and was blocked",
            self.pike.blocks(),
        )?;
        gauge(
            e,
            "vozbox_pike_blocked_sources",
            "Sources blocked by the rate limit now",
            int(self.pike.blocked()),
        )?;
        counter(
            e,
            "vozbox_pike_dropped_messages",
            "Messages and connections dropped because their source was rate-limited",
            self.pike.dropped(),
        )?;

        // SIP.
        counters(
            e,
            "vozbox_sip_requests_received",
            "SIP requests received (parsed), by method (other: any method not listed)",
            sip.requests()
                .into_iter()
                .map(|(method, n)| ([("method", method)], n)),
        )?;
        counters(
            e,
            "vozbox_sip_responses_sent",
            "SIP responses sent, by status code (retransmissions included)",
            sip.responses()
                .into_iter()
                .map(|(code, n)| ([("code", code.to_string())], n)),
        )?;
        gauge(
            e,
            "vozbox_sip_connections",
            "TCP and TLS connections open, accepted and opened",
            int(b2bua.out.transports.connection_count()),
        )?;
        counters(
            e,
            "vozbox_tls_handshakes",
            "TLS handshakes, by direction (inbound: accepted) and result (ok, failed, timeout)",
            sip.handshakes()
                .into_iter()
                .map(|(dir, result, n)| ([("direction", dir), ("result", result)], n)),
        )?;

        // Overload control: new requests refused so that admitted work completes.
        gauge(
            e,
            "vozbox_calls_setting_up",
            "Calls sent on to their branches and not yet answered or ended",
            int(b2bua.setting_up.count()),
        )?;
        counters(
            e,
            "vozbox_overload_refused",
            "New INVITEs and REGISTERs answered 503 by overload control, by reason",
            crate::overload::Shed::ALL
                .into_iter()
                .map(|why| ([("reason", why.as_str())], b2bua.overload.shed(why))),
        )?;
        counters(
            e,
            "vozbox_overload_unparsed",
            "UDP datagrams overload control dealt with from a glance, without a parse: new \
             requests refused, copies of refused ones answered again, ACKs for no call dropped \
             while refusals are remembered",
            crate::overload::Unparsed::ALL
                .into_iter()
                .map(|what| ([("what", what.as_str())], b2bua.overload.unparsed(what))),
        )?;

        // Calls.
        let calls = b2bua.stats.by_direction();
        gauges(
            e,
            "vozbox_calls_in_progress",
            "Calls set up and not ended, by direction",
            calls.iter().map(|(d, _, n)| ([("direction", *d)], *n)),
        )?;
        counters(
            e,
            "vozbox_calls_started",
            "Calls started (each gets a call record), by direction",
            calls.iter().map(|(d, n, _)| ([("direction", *d)], *n)),
        )?;
        counters(
            e,
            "vozbox_calls_ended",
            "Calls ended (call records made), by direction and disposition",
            b2bua
                .stats
                .ended()
                .into_iter()
                .map(|(d, disp, n)| ([("direction", d), ("disposition", disp)], n)),
        )?;
        histogram(
            e,
            "vozbox_call_setup_seconds",
            "Answered calls: from the (authenticated) INVITE to the callee's 200 OK",
            &b2bua.stats.setup_seconds.snapshot(),
        )?;

        // Client policies.
        let policy = &b2bua.policy.stats;
        counters(
            e,
            "vozbox_policy_refused",
            "Requests refused by a client policy, by cause (max_calls, ip_not_allowed, no_credit, daily_limit) and request",
            policy
                .refused_totals()
                .into_iter()
                .map(|(cause, req, n)| ([("cause", cause), ("request", req)], n)),
        )?;
        counters(
            e,
            "vozbox_policy_calls_cut",
            "Calls in progress ended by a client policy (no_credit, daily_limit), by cause",
            policy
                .cut_totals()
                .into_iter()
                .map(|(cause, n)| ([("cause", cause)], n)),
        )?;

        // The store.
        let store = &b2bua.writer.stats;
        let (commits, failed) = store.commits();
        let (ops, cdrs) = store.written();
        counter(
            e,
            "vozbox_cdrs_written",
            "Call records committed durably",
            cdrs,
        )?;
        counter(
            e,
            "vozbox_store_changes_written",
            "Changes (bindings, call records) committed durably",
            ops,
        )?;
        counter(
            e,
            "vozbox_store_commits",
            "Durable store transactions (group commits)",
            commits,
        )?;
        counter(
            e,
            "vozbox_store_commit_failures",
            "Store transactions that failed",
            failed,
        )?;
        histogram(
            e,
            "vozbox_store_commit_seconds",
            "Time one durable store transaction took",
            &store.commit_seconds.snapshot(),
        )?;
        gauge(
            e,
            "vozbox_store_queue_depth",
            "Jobs (a REGISTER's changes, a call record) waiting for the store writer",
            i64::try_from(store.depth()).unwrap_or(i64::MAX),
        )?;
        gauge(
            e,
            "vozbox_store_queue_capacity",
            "The store writer's queue size ([storage] write_queue)",
            int(store.capacity),
        )?;

        // The media relay.
        let media = &b2bua.media;
        let traffic = media.traffic();
        gauge(
            e,
            "vozbox_relay_sessions",
            "Relay sessions open (calls with media, voice notifications playing)",
            int(media.sessions()),
        )?;
        gauge(
            e,
            "vozbox_relay_port_pairs_in_use",
            "Relay port pairs (RTP + RTCP) in use, two per call with media",
            int(b2bua.media_ports_in_use()),
        )?;
        gauge(
            e,
            "vozbox_relay_port_pairs_kept_bound",
            "Free relay port pairs whose sockets stay bound between calls (two descriptors each)",
            int(media.ports_kept_bound()),
        )?;
        counters(
            e,
            "vozbox_relay_packets",
            "Packets relayed, by kind (rtp, rtcp)",
            [
                ([("kind", "rtp")], traffic.rtp_packets),
                ([("kind", "rtcp")], traffic.rtcp_packets),
            ],
        )?;
        counter(
            e,
            "vozbox_relay_kernel_packets",
            "Of the packets relayed, those the kernel forwarded ([media] kernel_forwarding), \
             counted when a call's counters are read and when it ends",
            traffic.kernel_packets,
        )?;
        counters(
            e,
            "vozbox_relay_bytes",
            "Bytes relayed (UDP payload), by kind (rtp, rtcp)",
            [
                ([("kind", "rtp")], traffic.rtp_bytes),
                ([("kind", "rtcp")], traffic.rtcp_bytes),
            ],
        )?;
        counters(
            e,
            "vozbox_relay_dropped_packets",
            "Packets the relay did not relay, by reason (source: not RTP or not from the \
             party; overload: the oldest of a backlog; unsent: the send failed)",
            [
                ([("reason", "source")], media.dropped()),
                ([("reason", "overload")], traffic.overload),
                ([("reason", "unsent")], traffic.unsent),
            ],
        )?;

        // The peers probed with OPTIONS (qualify): one series each, as provisioned.
        let peers = b2bua.qualify.views();
        let labels = |v: &crate::qualify::PeerView| {
            let owner = v.brand.as_deref().or(v.client.as_deref()).unwrap_or("");
            [
                ("kind", v.kind.as_str().to_string()),
                ("peer", format!("{}/{}", owner, v.name)),
            ]
        };
        gauges(
            e,
            "vozbox_peer_up",
            "Probed peers (direct friends, carriers): 1 answering, 0 down (no answer to 3 OPTIONS)",
            peers
                .iter()
                .filter(|v| v.state != "unknown")
                .map(|v| (labels(v), i64::from(v.state == "up"))),
        )?;
        let mut rtt = e.encode_descriptor(
            "vozbox_peer_rtt_seconds",
            "Probed peers: the round-trip time of the last answered OPTIONS",
            None,
            MetricType::Gauge,
        )?;
        for v in &peers {
            if let Some(ms) = v.rtt_ms {
                rtt.encode_family(&labels(v))?
                    .encode_gauge(&(ms / 1000.0))?;
            }
        }
        Ok(())
    }
}
