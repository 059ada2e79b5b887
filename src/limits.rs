//! The process's open-file limit. Every call holds four relay sockets and every TCP or TLS
//! peer a connection, and the relay keeps free port pairs bound between calls, so the
//! soft limit of a login shell (often 1,024) is not enough for a PBX: at start vozbox
//! raises it to the hard limit, as servers commonly do, and sizes what it keeps open by it.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Raises the soft limit on open files to the hard one and returns the soft limit now in
/// force (`u64::MAX` for none). A refusal leaves the limit as it was, logged.
pub fn raise_open_files() -> u64 {
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    if current.is_some() && current != maximum {
        match setrlimit(
            Resource::Nofile,
            Rlimit {
                current: maximum,
                maximum,
            },
        ) {
            Ok(()) => tracing::info!(
                "open files: soft limit raised from {} to {}",
                shown(current),
                shown(maximum)
            ),
            Err(e) => tracing::warn!(
                "open files: soft limit {} kept: raising it to {} failed: {}",
                shown(current),
                shown(maximum),
                e
            ),
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

fn shown(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}
