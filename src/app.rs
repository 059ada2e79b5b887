//! Starting the server: open the store, apply provisioning, bind the sockets, start the
//! services and the housekeeping timers.

use crate::auth::ban::Bans;
use crate::auth::digest::Algorithm;
use crate::auth::nonce::{now_secs, Nonces};
use crate::b2bua::B2bua;
use crate::config::Config;
use crate::model::Snapshot;
use crate::registrar::{keepalive, Location, Registrar};
use crate::server::Server;
use crate::sip::respond::Responder;
use crate::sip::tls::Tls;
use crate::sip::transaction::Transactions;
use crate::sip::transport::{Limits, Proto, Transports};
use crate::store::writer::{Op, Writer};
use crate::store::Store;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub async fn run(cfg: Config, provision: Option<crate::provision::Checked>) -> anyhow::Result<()> {
    let open_files = crate::limits::raise_open_files();
    // The GeoIP database first: a missing or wrong one stops the start, naming its path.
    let geoip = match &cfg.policy.geoip_database {
        Some(p) => {
            let g = crate::policy::geoip::GeoIp::open(p).map_err(|e| anyhow::anyhow!(e))?;
            tracing::info!("GeoIP database {}", g.path().display());
            Some(g)
        }
        None => None,
    };
    let store = Arc::new(Store::open_with_cache(
        &cfg.storage.path,
        cfg.storage.cache_mb << 20,
    )?);
    if let Some(checked) = provision {
        if store.replace_model_audited(&checked.model, &checked.admins, None)? {
            tracing::info!("provisioning applied");
        } else {
            tracing::info!("provisioning unchanged");
        }
    } else if store.is_model_empty()? {
        let demo = crate::provision::demo::model(&cfg.sip.domain);
        store.replace_model(&demo)?;
        println!(
            "Empty database: created the demo client {:?} on domain {}.",
            "demo", cfg.sip.domain
        );
        for u in &demo.users {
            println!(
                "  user {}  password {}  (register sip:{}@{})",
                u.name, u.password, u.name, cfg.sip.domain
            );
        }
        println!(
            "  dial 300 for a locution, 400 for the echo test, *93 for your voicemail (a call not answered in 20 s, or to a phone that is off, leaves a message); `vozbox demo` shows this again"
        );
    }
    // The admin API's credentials (made on the first start, printed next to the demo's).
    let creds = crate::api::secrets::prepare(&store, &cfg.api_token_file())
        .map_err(|e| anyhow::anyhow!("admin API credentials: {}", e))?;
    for line in &creds.printed {
        println!("{}", line);
    }
    for w in &creds.warnings {
        tracing::warn!("{}", w);
    }
    let api_auth = {
        let mut tokens: Vec<[u8; 32]> = creds.token_sha256.into_iter().collect();
        tokens.extend(cfg.api.token().map(crate::api::secrets::token_hash));
        Arc::new(
            crate::api::auth::Auth::new(
                tokens,
                creds.admins,
                Duration::from_secs(cfg.api.session_ttl),
                Bans::new(
                    cfg.auth.ban_threshold,
                    Duration::from_secs(cfg.auth.ban_window),
                    Duration::from_secs(cfg.auth.ban_duration),
                ),
            )
            .map_err(|e| anyhow::anyhow!("admin API credentials: {}", e))?,
        )
    };
    let model = store.load_model()?;
    if geoip.is_none() {
        if let Some(c) = model.clients.iter().find(|c| !c.geoip_countries.is_empty()) {
            anyhow::bail!(
                "client {:?} filters by geoip_countries but [policy] geoip_database is not set: \
                 set it, or provision the client without countries",
                c.name
            );
        }
    }
    let policy = Arc::new(crate::policy::Policy::new(geoip, &cfg.smtp));
    policy.ledger.load(store.accounts()?, &model);
    let snapshot = Arc::new(ArcSwap::from_pointee(Snapshot::new(model)));

    let location = Arc::new(Location::new());
    let expired = location.load(store.load_bindings()?, now_secs());
    let writer = Writer::start(store.clone(), cfg.storage.write_queue)?;
    crate::mail::start(cfg.smtp.clone(), store.clone(), writer.clone())?;
    if !expired.is_empty() {
        writer.submit(expired.into_iter().map(Op::Delete).collect(), None);
    }
    tracing::info!("{} bindings loaded", location.len());

    let bans = Arc::new(Bans::new(
        cfg.auth.ban_threshold,
        Duration::from_secs(cfg.auth.ban_window),
        Duration::from_secs(cfg.auth.ban_duration),
    ));
    let pike = Arc::new(crate::auth::pike::Pike::new(
        cfg.sip.rate_limit,
        Duration::from_secs(cfg.sip.rate_limit_block),
    ));
    let registrar = Arc::new(Registrar {
        cfg: cfg.registrar.clone(),
        algorithms: cfg
            .auth
            .algorithms
            .iter()
            .filter_map(|a| Algorithm::parse(a))
            .collect(),
        nonces: Nonces::new(cfg.auth.nonce_ttl),
        bans: bans.clone(),
        location: location.clone(),
        writer: writer.clone(),
        snapshot: snapshot.clone(),
        stats: Default::default(),
        policy: policy.clone(),
    });
    let limits = Limits {
        max_message_size: cfg.sip.max_message_size,
        max_connections: cfg.sip.max_connections,
        max_connections_per_ip: cfg.sip.max_connections_per_ip,
        tcp_idle_timeout: Duration::from_secs(cfg.sip.tcp_idle_timeout),
        send_queue: 256,
    };
    // One certificate for SIP over TLS and the admin API over TLS.
    let tls = if cfg.listeners().iter().any(|l| l.proto == Proto::Tls) || cfg.api.tls {
        let (tls, made) = Tls::start(&cfg.tls).map_err(|e| anyhow::anyhow!("{}", e))?;
        if let Some(line) = made {
            println!("{}", line);
        }
        tracing::info!("TLS certificate SHA-256 fingerprint {}", tls.fingerprint());
        Some(Arc::new(tls))
    } else {
        None
    };
    let (transports, streams) = Transports::bind(&cfg.listeners(), limits, tls.clone()).await?;
    let out = Arc::new(Responder {
        transports: transports.clone(),
        txns: Transactions::new(cfg.sip.transaction_cache),
        refused: Default::default(),
    });
    let (prompts, problems) = crate::media::prompts::Prompts::load(&cfg.media.sounds);
    if cfg.media.sounds.is_dir() {
        tracing::info!(
            "voice notifications: the built-in sounds, overridden by {}",
            cfg.media.sounds.display()
        );
    } else {
        tracing::info!(
            "voice notifications: the built-in sounds ({} is not a folder)",
            cfg.media.sounds.display()
        );
    }
    for p in &problems {
        tracing::warn!(
            "voice notification file not used (the built-in one plays): {}",
            p
        );
    }
    tracing::info!("{} voice notification(s) loaded", prompts.len());
    let media = Arc::new(crate::media::Media::new(
        cfg.media.clone(),
        prompts,
        tokio::runtime::Handle::current(),
        open_files,
    )?);
    let models = Arc::new(crate::models::Models::new(&store, snapshot.clone()));
    let voicemail = Arc::new(
        crate::voicemail::Service::new(
            store.clone(),
            &cfg.storage.path,
            &cfg.voicemail,
            cfg.smtp.clone(),
            media.prompts.clone(),
        )
        .map_err(|e| anyhow::anyhow!("voicemail: {}", e))?,
    );
    let recording = Arc::new(
        crate::recording::Service::new(
            store.clone(),
            crate::recording::folder(&cfg.storage.path, &cfg.storage.recordings),
            cfg.storage.recording_queue,
            cfg.storage.recordings_retention_days,
            media.prompts.named("en", "beep"),
        )
        .map_err(|e| anyhow::anyhow!("recordings: {}", e))?,
    );
    let b2bua = Arc::new(
        B2bua::new(
            out.clone(),
            registrar.clone(),
            cfg.calls.clone(),
            media.clone(),
            models.clone(),
            policy.clone(),
            tokio::runtime::Handle::current(),
        )
        .with_voicemail(voicemail.clone())
        .with_recording(recording.clone())
        .with_overload(cfg.overload.clone()),
    );
    b2bua
        .start_alarms()
        .map_err(|e| anyhow::anyhow!("the calls' timer thread: {}", e))?;
    // carriers reached by host name (RFC 3263), resolved on the runtime
    // (no resolver, e.g. no /etc/resolv.conf: carriers by name are unreachable, said once)
    match crate::dns::Dns::new(&cfg.dns) {
        Ok(dns) => {
            let dns = Arc::new(dns);
            let _ = b2bua.dns.set(dns.clone());
            // their requests recognised by what their names resolve to (the first round
            // waited for a little: a carrier's first requests are not challenged)
            let first = crate::b2bua::names::spawn(
                b2bua.names.clone(),
                b2bua.snapshot.clone(),
                dns,
                &tokio::runtime::Handle::current(),
            );
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), first).await;
        }
        Err(e) => tracing::warn!(
            "[dns]: {}; carriers and friends by host name unreachable",
            e
        ),
    }
    // every change of a mailbox is told to the phones subscribed to it
    let weak = Arc::downgrade(&b2bua);
    voicemail.on_change(move |client, mailbox| {
        if let Some(b) = weak.upgrade() {
            b.mwi_changed(client, mailbox);
        }
    });
    let server = Arc::new(Server {
        out: out.clone(),
        b2bua: b2bua.clone(),
        registrar: registrar.clone(),
        bans: bans.clone(),
        pike: pike.clone(),
        inflight: Arc::new(Semaphore::new(cfg.sip.max_transactions)),
    });
    let mut api_task = None;
    if let Some(addr) = cfg.api.addr() {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("[api] listen {}: {}", addr, e))?;
        let scheme = if cfg.api.tls { "https" } else { "http" };
        tracing::info!("admin API on {}://{}", scheme, addr);
        let api_tls = tls.clone().filter(|_| cfg.api.tls);
        // The admin API with the web portal beside it (`portal::serve`).
        api_task = Some(tokio::spawn(crate::portal::serve(
            listener,
            crate::api::Api {
                store: store.clone(),
                snapshot: snapshot.clone(),
                location: location.clone(),
                b2bua: b2bua.clone(),
                auth: api_auth.clone(),
                names: Arc::new(cfg.api.names.clone()),
                tls: tls.clone(),
                models: models.clone(),
                writer: writer.clone(),
                metrics: Arc::new(crate::metrics::Metrics::new(b2bua.clone(), pike.clone())),
                provision: crate::provision::Context::for_server(
                    cfg.policy.geoip_database.is_some(),
                ),
            },
            api_tls,
        )));
    }
    let stream_addrs: Vec<_> = streams.iter().map(|l| (l.proto, l.local)).collect();
    transports.serve(streams, server.clone(), cfg.sip.workers);
    for a in transports.udp_addrs() {
        tracing::info!("listening on udp:{}", a);
    }
    for (p, a) in stream_addrs {
        tracing::info!("listening on {}:{}", p.as_str(), a);
    }
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hup) => drop(tokio::spawn(reload_on_sighup(hup, tls))),
        Err(e) => tracing::warn!("no SIGHUP handler ({}): SIGHUP ends the process", e),
    }
    // SIGTERM and ctrl-c are handled from before "ready" on (shutdown.rs).
    let stop = crate::shutdown::signal();
    // The direct friends' and carriers' health (OPTIONS every qualify_interval).
    crate::qualify::driver::spawn(
        b2bua.qualify.clone(),
        snapshot.clone(),
        transports.clone(),
        b2bua.dns.get().cloned(),
        &tokio::runtime::Handle::current(),
    );
    println!("vozbox ready");

    {
        let (location, transports) = (location.clone(), transports.clone());
        let interval = cfg.registrar.keepalive_interval;
        std::thread::Builder::new()
            .name("vozbox-keepalive".into())
            .spawn(move || keepalive::run(location, transports, interval))?;
    }
    // SIGTERM or ctrl-c: new calls refused, the calls in progress drained (shutdown.rs).
    let mut drained = {
        let (b2bua, grace) = (b2bua.clone(), cfg.calls.shutdown_grace);
        tokio::spawn(async move {
            stop.await;
            crate::shutdown::drain(b2bua, Duration::from_secs(grace)).await;
        })
    };
    // Housekeeping (also while draining): expire bindings, forget old transactions,
    // nonces and bans.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n: u64 = 0;
    let mut dropped_logged = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut drained => {
                if let Some(api) = api_task {
                    api.abort();
                }
                crate::shutdown::close(&writer, store).await;
                return Ok(());
            }
        }
        n += 1;
        // A walk of the whole transaction memory (hundreds of thousands of entries at
        // 10,000 requests/s): every 4 s, so an entry lives Timer J plus up to 4 s.
        if n.is_multiple_of(4) {
            out.txns.purge();
        }
        b2bua.sweep();
        let gone = location.sweep(now_secs());
        if !gone.is_empty() {
            crate::registrar::changes::log_expired(&gone);
            writer.submit(gone.iter().map(|b| Op::Delete(b.key())).collect(), None);
        }
        // recordings past their retention, once an hour (blocking file work: off this task)
        if n % 3600 == 1 {
            let r = recording.clone();
            let now_ms = now_secs() * 1000;
            tokio::task::spawn_blocking(move || r.expire(now_ms));
        }
        if n.is_multiple_of(10) {
            bans.purge();
            pike.purge();
            api_auth.purge();
        }
        // What the relay dropped (strangers, junk): one line a minute at most.
        if n.is_multiple_of(60) {
            let dropped = media.dropped();
            if dropped > dropped_logged {
                tracing::warn!(
                    "media relay: {} packet(s) dropped in the last minute (not RTP, or not \
                     from the call's party: someone may be spraying the relay's ports); {} in all",
                    dropped - dropped_logged,
                    dropped
                );
                dropped_logged = dropped;
            }
        }
    }
}

/// SIGHUP reads the TLS certificate and key again; a file that does not load is logged
/// and the current certificate stays. Without a TLS listener it is only logged (a reload
/// by a service manager must not stop the server: SIGHUP's default action would).
async fn reload_on_sighup(mut hup: tokio::signal::unix::Signal, tls: Option<Arc<Tls>>) {
    while hup.recv().await.is_some() {
        let Some(t) = tls.clone() else {
            tracing::info!("SIGHUP: no TLS listener, nothing to reload");
            continue;
        };
        match tokio::task::spawn_blocking(move || t.reload()).await {
            Ok(Ok(fp)) => tracing::info!("SIGHUP: TLS certificate reloaded, fingerprint {}", fp),
            Ok(Err(e)) => tracing::error!("SIGHUP: TLS certificate not reloaded: {}", e),
            Err(e) => tracing::error!("SIGHUP: {}", e),
        }
    }
}
