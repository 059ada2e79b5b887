//! `vozbox admin` and `vozbox export`: the administrators (through the running server when
//! there is one, else on the database) and the whole model written back as a provisioning
//! file with the administrators' hashes (mode 0600).

use super::{fail, load_config, open_reader, Failure};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AdminCmd {
    /// List the administrators.
    List {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Add an administrator with a random password (printed once): an operator, or with
    /// `--client` a client administrator, restricted with `--read`/`--write`.
    Add {
        name: String,
        /// The client it administers (absent: an operator).
        #[arg(long)]
        client: Option<String>,
        /// Restricted to reading these resources (comma-separated, e.g. users,cdrs).
        #[arg(long, value_delimiter = ',')]
        read: Vec<String>,
        /// Restricted to changing these resources (comma-separated).
        #[arg(long, value_delimiter = ',')]
        write: Vec<String>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Remove an administrator (not the last operator).
    Remove {
        name: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Give an administrator a new random password, printed once.
    Passwd {
        name: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Issue a new API token (server stopped): its hash replaces the old one, the token is
    /// written to `api-token` next to the database (mode 0600).
    Token {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

pub fn admin(cmd: AdminCmd) -> Result<(), Failure> {
    use vozbox::api::manage;
    let config = match &cmd {
        AdminCmd::List { config }
        | AdminCmd::Add { config, .. }
        | AdminCmd::Remove { config, .. }
        | AdminCmd::Passwd { config, .. }
        | AdminCmd::Token { config } => config,
    };
    let cfg = load_config(config)?;
    if let AdminCmd::Token { .. } = cmd {
        let store = vozbox::store::Store::open(&cfg.storage.path).map_err(|e| {
            Failure(
                format!("{} (stop the server first: the token is read at start)", e),
                3,
            )
        })?;
        let file = cfg.api_token_file();
        vozbox::api::secrets::reissue_token(&store, &file).map_err(fail(3))?;
        println!(
            "New admin API token written to {} (mode 0600); the old one no longer works",
            file.display()
        );
        return Ok(());
    }
    let target = manage::target(&cfg).map_err(fail(3))?;
    match cmd {
        AdminCmd::List { .. } => {
            let list = manage::list(&target).map_err(fail(3))?;
            print!("{}", vozbox::report::admins(&list));
        }
        AdminCmd::Add {
            name,
            client,
            read,
            write,
            ..
        } => {
            use vozbox::model::Access;
            let rights = (!read.is_empty() || !write.is_empty()).then(|| {
                read.iter()
                    .map(|r| (r.clone(), Access::Read))
                    .chain(write.iter().map(|w| (w.clone(), Access::Write)))
                    .collect()
            });
            let pw = manage::add(&target, &name, client, rights).map_err(fail(1))?;
            println!(
                "Administrator {}  password {}  (shown once: only its hash is stored)",
                name, pw
            );
        }
        AdminCmd::Remove { name, .. } => {
            manage::remove(&target, &name).map_err(fail(1))?;
            println!("Administrator {} removed", name);
        }
        AdminCmd::Passwd { name, .. } => {
            let pw = manage::passwd(&target, &name).map_err(fail(1))?;
            println!(
                "Administrator {}  password {}  (shown once: only its hash is stored)",
                name, pw
            );
        }
        AdminCmd::Token { .. } => {}
    }
    Ok(())
}

pub fn export(config: Option<PathBuf>, output: Option<PathBuf>) -> Result<(), Failure> {
    let cfg = load_config(&config)?;
    let reader = open_reader(&cfg)?;
    let model = reader.model().map_err(|e| Failure(e.to_string(), 3))?;
    let admins = reader.admins().map_err(|e| Failure(e.to_string(), 3))?;
    let text = vozbox::provision::export::to_file(&model, &admins).map_err(fail(3))?;
    match output {
        None => print!("{}", text),
        Some(path) => {
            vozbox::api::secrets::write_private(&path, &text).map_err(fail(3))?;
            eprintln!("{}: written (mode 0600)", path.display());
        }
    }
    Ok(())
}
