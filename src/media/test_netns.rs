//! A network namespace joined to this one by veth pairs, for the kernel fast path's
//! tests (`fastpath_tests.rs`): made with `ip`, `sysctl` and `ethtool` (root), removed
//! when dropped.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

/// A network namespace joined to this one by a veth pair (and maybe a second one, with
/// policy rules), removed when dropped.
pub(super) struct Netns {
    pub(super) name: String,
    pub(super) host_if: String,
    pub(super) prefix: String,
    /// This namespace's number among the process's (its names and addresses differ).
    k: u32,
    /// The second pair's host end.
    second: Option<String>,
    /// The host's policy rule, while it is there (`ip rule` arguments).
    rule: Option<Vec<String>>,
}

pub(super) fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("the `ip` command (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The command `program`, run in namespace `ns` or here.
fn command(ns: Option<&str>, program: &str) -> std::process::Command {
    match ns {
        Some(ns) => {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", ns, program]);
            c
        }
        None => std::process::Command::new(program),
    }
}

/// `sysctl -w` of `settings`, in namespace `ns` or here; whether it took.
fn sysctl(ns: Option<&str>, settings: &[String]) -> bool {
    command(ns, "sysctl")
        .arg("-qw")
        .args(settings)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Namespaces made by this process so far.
static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The part of namespace `k`'s interface names that tells them apart (short: a name has
/// at most 15 characters).
fn tag(k: u32) -> String {
    format!("{}n{}", k / 8 % 100_000, k % 8)
}

impl Netns {
    /// `prefix.1/24` on the host's end, `prefix.2` and `.3` (the parties) on the other.
    pub(super) fn new() -> Netns {
        let k = std::process::id() * 8 + MADE.fetch_add(1, Ordering::Relaxed);
        let tag = tag(k);
        let net = Netns {
            name: format!("vzb{tag}"),
            host_if: format!("vzh{tag}"),
            prefix: format!("10.{}.{}", 200 + k % 50, (k / 50) % 250),
            k,
            second: None,
            rule: None,
        };
        let (p, ns) = (&net.prefix, net.name.as_str());
        ip(&["netns", "add", ns]);
        net.pair(
            &net.host_if,
            &format!("vzn{tag}"),
            &format!("{p}.1/24"),
            &[&format!("{p}.2/24"), &format!("{p}.3/24")],
        );
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        net
    }

    /// A veth pair from `host` (address `addr`) to `peer` in the namespace (`peer_addrs`),
    /// up, without checksum offloads (the parties' UDP checksums are computed whole and
    /// checked on arrival, so a wrong rewrite would lose the packets) and without IPv6
    /// (nothing but the test's packets and address resolution on them).
    fn pair(&self, host: &str, peer: &str, addr: &str, peer_addrs: &[&str]) {
        let ns = self.name.as_str();
        ip(&["link", "add", host, "type", "veth", "peer", "name", peer]);
        ip(&["link", "set", peer, "netns", ns]);
        // (a kernel without IPv6 has none to turn off)
        let _ = sysctl(None, &[format!("net.ipv6.conf.{host}.disable_ipv6=1")]);
        let _ = sysctl(Some(ns), &[format!("net.ipv6.conf.{peer}.disable_ipv6=1")]);
        ip(&["addr", "add", addr, "dev", host]);
        ip(&["link", "set", host, "up"]);
        for a in peer_addrs {
            ip(&["-n", ns, "addr", "add", a, "dev", peer]);
        }
        ip(&["-n", ns, "link", "set", peer, "up"]);
        ethtool_off(Some(ns), peer);
        ethtool_off(None, host);
    }

    /// A second pair into the namespace, and policy rules (not the main tables) that send
    /// what the host's `prefix.1` sends to `prefix.3` through it, and what `prefix.3` sends
    /// back (so that each side's reverse path is the way it came): the name of its host
    /// end.
    pub(super) fn policy_route_to_b(&mut self) -> String {
        let tag = tag(self.k);
        let (host, peer) = (format!("vzq{tag}"), format!("vzm{tag}"));
        let q = format!("198.18.{}", self.k % 250);
        self.pair(&host, &peer, &format!("{q}.1/24"), &[&format!("{q}.2/24")]);
        let ns = self.name.clone();
        // the namespace answers for and takes `prefix.3` on either of its interfaces
        let mut settings = Vec::new();
        for dev in ["all", "default", peer.as_str()] {
            for (key, v) in [("rp_filter", 0), ("arp_ignore", 0), ("arp_filter", 0)] {
                settings.push(format!("net.ipv4.conf.{dev}.{key}={v}"));
            }
        }
        assert!(sysctl(Some(&ns), &settings), "sysctl in {ns}");
        let (p, table) = (&self.prefix, (20_000 + self.k % 10_000).to_string());
        let (one, three) = (format!("{p}.1"), format!("{p}.3"));
        ip(&["route", "add", &three, "dev", &host, "table", &table]);
        ip(&[
            "-n", &ns, "route", "add", &one, "dev", &peer, "table", &table,
        ]);
        ip(&[
            "-n", &ns, "rule", "add", "from", &three, "to", &one, "lookup", &table, "pref", &table,
        ]);
        let rule: Vec<String> = ["from", &one, "to", &three, "lookup", &table, "pref", &table]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let mut add = vec!["rule", "add"];
        add.extend(rule.iter().map(String::as_str));
        ip(&add);
        self.rule = Some(rule);
        self.second = Some(host.clone());
        host
    }

    /// Host `h`'s address: `prefix.h`, or in IPv6 `v6prefix::h`.
    pub(super) fn addr(&self, h: u8, v6: bool) -> IpAddr {
        if v6 {
            let (hi, lo) = (self.k >> 16, self.k & 0xffff);
            format!("fd7a:{hi:x}:{lo:x}::{h}").parse().unwrap()
        } else {
            format!("{}.{h}", self.prefix).parse().unwrap()
        }
    }

    /// IPv6 on the first pair too: `::1` on the host's end, `::2` and `::3` on the other
    /// (without duplicate address detection: usable at once).
    pub(super) fn with_ipv6(&self) {
        let (host, peer) = (&self.host_if, format!("vzn{}", tag(self.k)));
        let ns = self.name.as_str();
        assert!(sysctl(
            None,
            &[format!("net.ipv6.conf.{host}.disable_ipv6=0")]
        ));
        assert!(sysctl(
            Some(ns),
            &[format!("net.ipv6.conf.{peer}.disable_ipv6=0")]
        ));
        let a = |h| format!("{}/64", self.addr(h, true));
        ip(&["addr", "add", &a(1), "dev", host, "nodad"]);
        for h in [2, 3] {
            ip(&["-n", ns, "addr", "add", &a(h), "dev", &peer, "nodad"]);
        }
    }

    /// Takes the host's policy rule out (the namespace's stays).
    pub(super) fn drop_rule(&mut self) {
        if let Some(del) = self.take_rule() {
            let del: Vec<&str> = del.iter().map(String::as_str).collect();
            ip(&del);
        }
    }

    /// The `ip` arguments that delete the host's policy rule, which is then no longer
    /// there to delete.
    fn take_rule(&mut self) -> Option<Vec<String>> {
        let rule = self.rule.take()?;
        Some(
            ["rule", "del"]
                .iter()
                .map(|a| a.to_string())
                .chain(rule)
                .collect(),
        )
    }
}

/// Turns checksum offloads off on `dev` (in namespace `ns`).
fn ethtool_off(ns: Option<&str>, dev: &str) {
    let out = command(ns, "ethtool")
        .args(["-K", dev, "tx", "off", "rx", "off"])
        .output();
    assert!(
        out.as_ref().is_ok_and(|o| o.status.success()),
        "ethtool -K {dev} (apt-get install ethtool): {out:?}"
    );
}

impl Drop for Netns {
    fn drop(&mut self) {
        let run = |args: &[&str]| {
            let _ = std::process::Command::new("ip").args(args).output();
        };
        if let Some(del) = self.take_rule() {
            let del: Vec<&str> = del.iter().map(String::as_str).collect();
            run(&del);
        }
        if let Some(host) = &self.second {
            run(&["link", "del", host]);
        }
        run(&["link", "del", &self.host_if]);
        run(&["netns", "del", &self.name]);
    }
}

/// Packets sent so far out of the host's interface `dev`.
pub(super) fn tx_packets(dev: &str) -> u64 {
    std::fs::read_to_string(format!("/sys/class/net/{dev}/statistics/tx_packets"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no tx_packets for {dev}"))
}
