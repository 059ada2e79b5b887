//! E-mail notifications (DESIGN §1 `mail/`): what is to be sent is queued durably in the
//! store's outbox (by the change that causes it, in its own transaction); a thread of its
//! own takes each mail from there, hands it to the `[smtp]` server with lettre's blocking
//! client, removes it once the server took it, and retries a failed one later (backing
//! off, given up after a day).

use crate::config::Smtp;
use crate::model::Mail;
use crate::store::writer::{Op, Writer};
use crate::store::Store;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{SmtpTransport, Transport};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `template` with each `${NAME}` of `vars` replaced by its value.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{}}}", k), v);
    }
    out
}

/// The max daily usage notification of client `company` whose limit is `amount`.
pub fn max_daily_usage(cfg: &Smtp, to: &str, company: &str, amount: &str) -> Mail {
    let vars = [
        ("MAXDAILYUSAGE_COMPANY", company),
        ("MAXDAILYUSAGE_AMOUNT", amount),
    ];
    Mail {
        to: to.to_string(),
        subject: render(&cfg.max_daily_usage_subject, &vars),
        body: render(&cfg.max_daily_usage_body, &vars),
        attachment: None,
    }
}

fn transport(cfg: &Smtp) -> Result<SmtpTransport, String> {
    let builder = match cfg.security.as_str() {
        "tls" => SmtpTransport::relay(&cfg.server).map_err(|e| e.to_string())?,
        "starttls" => SmtpTransport::starttls_relay(&cfg.server).map_err(|e| e.to_string())?,
        _ => SmtpTransport::builder_dangerous(&cfg.server),
    };
    let mut builder = builder
        .port(cfg.port)
        .timeout(Some(Duration::from_secs(30)));
    if !cfg.username.is_empty() {
        builder = builder.credentials(Credentials::new(cfg.username.clone(), cfg.password.clone()));
    }
    Ok(builder.build())
}

fn send(t: &SmtpTransport, from: &str, m: &Mail) -> Result<(), String> {
    let builder = lettre::Message::builder()
        .from(
            from.parse()
                .map_err(|e| format!("from {:?}: {}", from, e))?,
        )
        .to(m.to.parse().map_err(|e| format!("to {:?}: {}", m.to, e))?)
        .subject(m.subject.clone());
    // A file that is gone by now (a voicemail message deleted before its mail went out)
    // leaves the mail without it.
    let file = m
        .attachment
        .as_ref()
        .and_then(|a| Some((a, std::fs::read(&a.path).ok()?)));
    let msg = match file {
        None => builder.header(ContentType::TEXT_PLAIN).body(m.body.clone()),
        Some((a, bytes)) => {
            use lettre::message::{Attachment, MultiPart, SinglePart};
            let kind = ContentType::parse(&a.content_type).map_err(|e| e.to_string())?;
            builder.multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(m.body.clone()))
                    .singlepart(Attachment::new(a.name.clone()).body(bytes, kind)),
            )
        }
    }
    .map_err(|e| e.to_string())?;
    t.send(&msg).map(|_| ()).map_err(|e| e.to_string())
}

/// Tries of one mail before it is given up (the waits double from 10 s to an hour: about
/// a day in all).
const TRIES: u32 = 30;

/// Starts the sender thread when `[smtp] server` is set (else mail stays queued).
pub fn start(cfg: Smtp, store: Arc<Store>, writer: Writer) -> std::io::Result<()> {
    if cfg.server.is_empty() {
        return Ok(());
    }
    let t = match transport(&cfg) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("[smtp] {}: {}; no e-mail is sent", cfg.server, e);
            return Ok(());
        }
    };
    // weak: the database closes at shutdown while this thread sleeps
    let store = Arc::downgrade(&store);
    std::thread::Builder::new()
        .name("vozbox-mail".into())
        .spawn(move || {
            // mail number → (tries, not before)
            let mut failed: HashMap<u64, (u32, Instant)> = HashMap::new();
            // sent, their removal from the outbox perhaps not committed yet
            let mut sent: std::collections::HashSet<u64> = Default::default();
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let Some(db) = store.upgrade() else { return };
                let queued = match db.outbox() {
                    Ok(q) => q,
                    Err(e) => {
                        tracing::error!("mail: reading the outbox: {}", e);
                        continue;
                    }
                };
                drop(db);
                sent.retain(|n| queued.iter().any(|(q, _)| q == n));
                for (n, m) in queued {
                    if sent.contains(&n) {
                        continue;
                    }
                    if failed.get(&n).is_some_and(|(_, at)| Instant::now() < *at) {
                        continue;
                    }
                    match send(&t, &cfg.from, &m) {
                        Ok(()) => {
                            tracing::info!("mail to {} sent: {}", m.to, m.subject);
                            failed.remove(&n);
                            sent.insert(n);
                            writer.submit_wait(vec![Op::MailSent(n)], None);
                        }
                        Err(e) => {
                            let tries = failed.get(&n).map(|f| f.0).unwrap_or(0) + 1;
                            if tries >= TRIES {
                                tracing::error!("mail to {} given up: {}", m.to, e);
                                failed.remove(&n);
                                sent.insert(n);
                                writer.submit_wait(vec![Op::MailSent(n)], None);
                            } else {
                                let wait = Duration::from_secs(10 << tries.min(9))
                                    .min(Duration::from_secs(3600));
                                tracing::warn!(
                                    "mail to {} not sent ({}); again in {} s",
                                    m.to,
                                    e,
                                    wait.as_secs()
                                );
                                failed.insert(n, (tries, Instant::now() + wait));
                            }
                        }
                    }
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_variables_are_filled() {
        let m = max_daily_usage(
            &Smtp::default(),
            "boss@bluebird.example",
            "bluebird",
            "5.00 EUR",
        );
        assert_eq!(m.subject, "Max daily usage reached: bluebird");
        assert!(
            m.body
                .contains("bluebird has reached its max daily usage of 5.00 EUR"),
            "{}",
            m.body
        );
        assert_eq!(render("${A}${B}${A}", &[("A", "x"), ("B", "y")]), "xyx");
    }
}
