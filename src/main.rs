use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use vozbox::config::Config;

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
    /// Validate a provisioning file and print every error with its place.
    Check { file: PathBuf },
    /// Apply a provisioning file to the database (atomically, idempotently).
    Apply {
        file: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List the registered bindings.
    Registrations {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn load_config(path: &Option<PathBuf>) -> Result<Config, String> {
    match path {
        Some(p) => Config::load(p),
        None => Ok(Config::default()),
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd.unwrap_or(Cmd::Run {
        config: None,
        provision: None,
    }) {
        Cmd::Run { config, provision } => {
            let cfg = match load_config(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {}", e);
                    return ExitCode::from(2);
                }
            };
            init_logging(&cfg.log.level);
            let model = match provision.as_ref().map(|p| vozbox::provision::load(p)) {
                None => None,
                Some(Ok(m)) => Some(m),
                Some(Err(errs)) => {
                    for e in errs {
                        eprintln!("error: {}", e);
                    }
                    return ExitCode::from(2);
                }
            };
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {}", e);
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(vozbox::app::run(cfg, model)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {}", e);
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Check { file } => match vozbox::provision::load(&file) {
            Ok(m) => {
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
                ExitCode::SUCCESS
            }
            Err(errs) => {
                for e in &errs {
                    eprintln!("{}", e);
                }
                eprintln!("{} error(s)", errs.len());
                ExitCode::from(1)
            }
        },
        Cmd::Apply { file, config } => {
            let cfg = match load_config(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {}", e);
                    return ExitCode::from(2);
                }
            };
            let model = match vozbox::provision::load(&file) {
                Ok(m) => m,
                Err(errs) => {
                    for e in &errs {
                        eprintln!("{}", e);
                    }
                    eprintln!("{} error(s); nothing applied", errs.len());
                    return ExitCode::from(1);
                }
            };
            let store = match vozbox::store::Store::open(&cfg.storage.path) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {}", e);
                    return ExitCode::FAILURE;
                }
            };
            match store.replace_model(&model) {
                Ok(true) => {
                    println!(
                        "{}: applied to {}",
                        file.display(),
                        cfg.storage.path.display()
                    );
                    ExitCode::SUCCESS
                }
                Ok(false) => {
                    println!("{}: already applied, nothing changed", file.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {}", e);
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Registrations { config } => {
            let cfg = match load_config(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {}", e);
                    return ExitCode::from(2);
                }
            };
            let reader = match vozbox::store::Reader::open(&cfg.storage.path) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {}", e);
                    return ExitCode::FAILURE;
                }
            };
            match reader.bindings() {
                Ok(mut bs) => {
                    let now = vozbox::auth::nonce::now_secs();
                    bs.retain(|b| b.expires_at > now);
                    bs.sort_by(|a, b| a.aor.cmp(&b.aor));
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
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {}", e);
                    ExitCode::FAILURE
                }
            }
        }
    }
}
