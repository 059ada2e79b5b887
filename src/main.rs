use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vozbox::api::client::{self, Reply};
use vozbox::config::Config;

#[path = "cli/admin.rs"]
mod admin;
#[path = "cli/kept.rs"]
mod kept;

use admin::AdminCmd;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "vozbox", version, about = "A complete SIP PBX in one binary")]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (the default with no arguments).
    Run {
        /// Server settings; built-in defaults when absent.
        #[arg(long)]
        config: Option<PathBuf>,
        /// A provisioning file applied (atomically) before the server starts.
        #[arg(long)]
        provision: Option<PathBuf>,
    },
    /// Validate a provisioning file and print every error with its place; with
    /// `--config`, also against what that server can do (a country filter needs its GeoIP
    /// database).
    Check {
        file: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Apply a provisioning file atomically and idempotently: through the admin API when
    /// a server runs, else to the database directly.
    Apply {
        file: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Show the demo client's users and passwords again.
    Demo {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List the registered bindings.
    Registrations {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List the active calls of the running server.
    Calls {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The health of the direct friends and carriers probed with OPTIONS
    /// (`qualify_interval`), from the running server: state, last round trip, last seen.
    Peers {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Show the running server's TLS certificate fingerprint; `--reload` makes it read the
    /// certificate and key files again first (like SIGHUP).
    Tls {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        reload: bool,
    },
    /// Write the current model as a provisioning file (it holds every password: written
    /// with mode 0600) that `vozbox check` accepts and that re-applies as a no-op.
    Export {
        #[arg(long)]
        config: Option<PathBuf>,
        /// The file to write; standard output when absent.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// The admin API's administrators and token: through the running server when one
    /// answers, else on the database.
    Admin {
        #[command(subcommand)]
        cmd: AdminCmd,
    },
    /// Per client: external calls in progress against max calls, today's spend against the
    /// max daily usage, the balance, and whether it is blocked and why.
    Usage {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only this client.
        #[arg(long)]
        client: Option<String>,
    },
    /// Voicemail messages; `--delete ID` removes one (its record, then its file).
    Voicemail {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only this mailbox.
        #[arg(long)]
        mailbox: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        delete: Option<u64>,
    },
    /// Call recordings; `--delete ID` removes one when its client allows it.
    Recordings {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only this client's.
        #[arg(long)]
        client: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        delete: Option<u64>,
    },
    /// List the call records (the most recent last).
    Cdrs {
        #[arg(long)]
        config: Option<PathBuf>,
        /// How many records, counting back from the most recent.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

/// A command's failure: the message and the exit code (1 = the input is wrong, 2 = the
/// configuration is wrong, 3 = anything else).
struct Failure(String, u8);

fn fail(code: u8) -> impl FnOnce(String) -> Failure {
    move |m| Failure(m, code)
}

fn load_config(path: &Option<PathBuf>) -> Result<Config, Failure> {
    match path {
        Some(p) => Config::load(p).map_err(fail(2)),
        None => Ok(Config::default()),
    }
}

fn load_provision(file: &Path, cfg: &Config) -> Result<vozbox::provision::Checked, Failure> {
    vozbox::provision::load_with(
        file,
        &vozbox::provision::Context::for_server(cfg.policy.geoip_database.is_some()),
    )
    .map_err(|errs| {
        let n = errs.len();
        Failure(
            format!("{}\n{} error(s); nothing applied", errs.join("\n"), n),
            1,
        )
    })
}

fn init_logging(level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn run(config: Option<PathBuf>, provision: Option<PathBuf>) -> Result<(), Failure> {
    let cfg = load_config(&config)?;
    init_logging(&cfg.log.level);
    let model = match &provision {
        Some(p) => Some(load_provision(p, &cfg).map_err(|f| Failure(f.0, 2))?),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start the runtime: {}", e), 3))?;
    rt.block_on(vozbox::app::run(cfg, model))
        .map_err(|e| Failure(e.to_string(), 3))
}

fn check(file: &Path, config: Option<PathBuf>) -> Result<(), Failure> {
    let ctx = match &config {
        Some(_) => vozbox::provision::Context::for_server(
            load_config(&config)?.policy.geoip_database.is_some(),
        ),
        None => vozbox::provision::Context::default(),
    };
    let m = vozbox::provision::load_with(file, &ctx)
        .map_err(|errs| {
            let n = errs.len();
            Failure(format!("{}\n{} error(s)", errs.join("\n"), n), 1)
        })?
        .model;
    println!(
        "{}: OK ({} brands, {} clients, {} users, {} friends, {} extensions, {} DDIs)",
        file.display(),
        m.brands.len(),
        m.clients.len(),
        m.users.len(),
        m.friends.len(),
        m.extensions.len(),
        m.ddis.len()
    );
    Ok(())
}

fn apply(file: &Path, config: Option<PathBuf>) -> Result<(), Failure> {
    let cfg = load_config(&config)?;
    let checked = load_provision(file, &cfg)?;
    if let Some(addr) = cfg.api.addr() {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Failure(format!("{}: {}", file.display(), e), 1))?;
        // No token file is fine when no server runs (the file goes to the database).
        let token = match client::token_for(&cfg) {
            Ok(t) => Some(t),
            Err(_) if !client::listening(addr) => None,
            Err(e) => return Err(Failure(e, 2)),
        };
        let reply = client::request_to(
            &cfg,
            "POST",
            "/api/provision",
            token.as_deref(),
            Some("application/toml"),
            &text,
        );
        match reply {
            Ok(Reply::NoServer) => {}
            Ok(Reply::Http { status: 200, body }) => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if v["changed"].as_bool() == Some(true) {
                    println!(
                        "{}: applied to the running server at {}",
                        file.display(),
                        addr
                    );
                } else {
                    println!("{}: already applied, nothing changed", file.display());
                }
                return Ok(());
            }
            Ok(Reply::Http { status, body }) => {
                return Err(Failure(
                    format!(
                        "the server at {} refused the file ({}): {}",
                        addr, status, body
                    ),
                    1,
                ))
            }
            Err(e) => return Err(Failure(format!("admin API at {}: {}", addr, e), 3)),
        }
    }
    let store =
        vozbox::store::Store::open(&cfg.storage.path).map_err(|e| Failure(e.to_string(), 3))?;
    let entry = vozbox::model::AuditEntry {
        at: vozbox::auth::nonce::now_secs(),
        who: "cli".into(),
        action: "apply".into(),
        resource: "provision".into(),
        id: file.display().to_string(),
        client: None,
    };
    match store.replace_model_audited(&checked.model, &checked.admins, Some(&entry)) {
        Ok(true) => println!(
            "{}: applied to {}",
            file.display(),
            cfg.storage.path.display()
        ),
        Ok(false) => println!("{}: already applied, nothing changed", file.display()),
        Err(e) => return Err(Failure(e.to_string(), 3)),
    }
    Ok(())
}

/// The database of `cfg` for reading; a missing one is named with how to find the right one.
fn open_reader(cfg: &Config) -> Result<vozbox::store::Reader, Failure> {
    let path = &cfg.storage.path;
    if !path.exists() {
        let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        return Err(Failure(
            format!(
                "no database at {}: run the command in the directory the server runs in, or \
                 give the server's config with --config FILE",
                shown.display()
            ),
            3,
        ));
    }
    vozbox::store::Reader::open(path).map_err(|e| Failure(e.to_string(), 3))
}

/// `vozbox demo`: the demo client's users and passwords, again.
fn demo(config: Option<PathBuf>) -> Result<(), Failure> {
    let cfg = load_config(&config)?;
    let model = open_reader(&cfg)?
        .model()
        .map_err(|e| Failure(e.to_string(), 3))?;
    let Some(client) = model.clients.iter().find(|c| c.name == "demo") else {
        return Err(Failure(
            "no demo client in this database (it is made on the first start with an empty \
             database, and replaced by a provisioning file)"
                .into(),
            1,
        ));
    };
    print!("{}", vozbox::provision::demo::describe(&model, client));
    Ok(())
}

fn registrations(config: Option<PathBuf>) -> Result<(), Failure> {
    let cfg = load_config(&config)?;
    let reader = open_reader(&cfg)?;
    let mut bs = reader.bindings().map_err(|e| Failure(e.to_string(), 3))?;
    let now = vozbox::auth::nonce::now_secs();
    bs.retain(|b| b.expires_at > now);
    bs.sort_by(|a, b| a.aor.cmp(&b.aor).then(a.contact.cmp(&b.contact)));
    println!(
        "{:<32} {:<44} {:<40} {:>7}",
        "AOR", "CONTACT", "FLOW", "EXPIRES"
    );
    for b in &bs {
        println!(
            "{:<32} {:<44} {:<40} {:>6}s",
            b.aor,
            b.contact,
            b.flow.to_string(),
            b.expires_at - now
        );
    }
    println!("{} binding(s)", bs.len());
    Ok(())
}

/// One call to the running server's admin API: the JSON body of a 200.
fn ask_server<T: serde::de::DeserializeOwned>(
    cfg: &Config,
    method: &str,
    path: &str,
) -> Result<T, Failure> {
    let Some(addr) = cfg.api.addr() else {
        return Err(Failure("[api] listen is off: no server to ask".into(), 2));
    };
    let token = client::token_for(cfg).map_err(fail(2))?;
    let body = match client::request_to(cfg, method, path, Some(&token), None, "") {
        Ok(Reply::Http { status: 200, body }) => body,
        Ok(Reply::Http { status, body }) => {
            return Err(Failure(format!("admin API: {} {}", status, body), 3))
        }
        Ok(Reply::NoServer) => return Err(Failure(format!("no server at {}", addr), 3)),
        Err(e) => return Err(Failure(format!("admin API at {}: {}", addr, e), 3)),
    };
    serde_json::from_str(&body).map_err(|e| Failure(format!("admin API: {}", e), 3))
}

fn tls(config: Option<PathBuf>, reload: bool) -> Result<(), Failure> {
    let cfg = load_config(&config)?;
    let v: serde_json::Value = if reload {
        ask_server(&cfg, "POST", "/api/tls/reload")?
    } else {
        ask_server(&cfg, "GET", "/api/tls")?
    };
    println!(
        "SHA-256 fingerprint {}",
        v["fingerprint"].as_str().unwrap_or("?")
    );
    Ok(())
}

fn calls(config: Option<PathBuf>) -> Result<(), Failure> {
    let cfg = load_config(&config)?;
    let list: Vec<serde_json::Value> = ask_server(&cfg, "GET", "/api/calls")?;
    print!(
        "{}",
        vozbox::report::calls(&list, vozbox::auth::nonce::now_secs())
    );
    println!("{} active call(s)", list.len());
    if let Ok(v) = ask_server::<serde_json::Value>(&cfg, "GET", "/api/media") {
        println!("{} relay port pair(s) in use", v["port_pairs_in_use"]);
    }
    Ok(())
}

fn peers(config: Option<PathBuf>, json: bool) -> Result<(), Failure> {
    let cfg = load_config(&config)?;
    let list: Vec<serde_json::Value> = ask_server(&cfg, "GET", "/api/peers")?;
    if json {
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    let now = vozbox::auth::nonce::now_secs();
    print!("{}", vozbox::report::peers(&list, now));
    println!("{} peer(s) probed", list.len());
    Ok(())
}

fn cdrs(config: Option<PathBuf>, limit: usize) -> Result<(), Failure> {
    let cfg = load_config(&config)?;
    let reader = open_reader(&cfg)?;
    let list = reader.cdrs(limit).map_err(|e| Failure(e.to_string(), 3))?;
    print!("{}", vozbox::report::cdrs(&list));
    Ok(())
}

/// `vozbox usage`: from the running server (calls in progress are its own), else from the
/// database (no call in progress then).
fn usage(config: Option<PathBuf>, client: Option<String>) -> Result<(), Failure> {
    let cfg = load_config(&config)?;
    let path = match &client {
        Some(c) => format!("/api/usage?client={}", c),
        None => "/api/usage".to_string(),
    };
    let running = cfg.api.addr().is_some_and(client::listening);
    let list: Vec<vozbox::policy::usage::Usage> = if running {
        ask_server(&cfg, "GET", &path)?
    } else {
        let reader = open_reader(&cfg)?;
        let model = reader.model().map_err(|e| Failure(e.to_string(), 3))?;
        let accounts = reader.accounts().map_err(|e| Failure(e.to_string(), 3))?;
        let now = vozbox::auth::nonce::now_secs();
        let mut list = vozbox::policy::usage::offline(&model, accounts, now);
        list.retain(|u| client.as_ref().is_none_or(|c| *c == u.client));
        if let (Some(c), true) = (&client, list.is_empty()) {
            return Err(Failure(format!("no client {:?}", c), 1));
        }
        list
    };
    print!("{}", vozbox::policy::usage::table(&list));
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd.unwrap_or(Cmd::Run {
        config: None,
        provision: None,
    }) {
        Cmd::Run { config, provision } => run(config, provision),
        Cmd::Check { file, config } => check(&file, config),
        Cmd::Apply { file, config } => apply(&file, config),
        Cmd::Registrations { config } => registrations(config),
        Cmd::Calls { config } => calls(config),
        Cmd::Peers { config, json } => peers(config, json),
        Cmd::Cdrs { config, limit } => cdrs(config, limit),
        Cmd::Recordings {
            config,
            client,
            json,
            delete,
        } => kept::recordings(config, client, json, delete),
        Cmd::Voicemail {
            config,
            mailbox,
            json,
            delete,
        } => kept::voicemail(config, mailbox, json, delete),
        Cmd::Usage { config, client } => usage(config, client),
        Cmd::Tls { config, reload } => tls(config, reload),
        Cmd::Admin { cmd } => admin::admin(cmd),
        Cmd::Export { config, output } => admin::export(config, output),
        Cmd::Demo { config } => demo(config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg, code)) => {
            if code == 1 {
                eprintln!("{}", msg);
            } else {
                eprintln!("error: {}", msg);
            }
            ExitCode::from(code)
        }
    }
}
