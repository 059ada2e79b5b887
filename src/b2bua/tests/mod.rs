//! The call core in virtual time: a call is built as `invite.rs` builds it, events are
//! handed to it at chosen instants and every action it returns is read — 32 s of RFC 3261
//! timers pass in microseconds. One test per rule (RFC 3261, DESIGN).

use super::actions::{Action, Actions};
use super::call::{Call, Event, Fork, ForkState, Info, Limits, Phase, Side};
use super::leg::{Dest, Leg};
use super::target::Target;
use super::Incoming;
use crate::sip::message::{Message, StartLine};
use crate::sip::reply::response;
use crate::sip::transport::{Flow, Proto};
use crate::sip::validate::check_request;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const VOZBOX: &str = "127.0.0.1:5060";
const ALICE: &str = "127.0.0.1:5070";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn flow(proto: Proto, remote: &str) -> Flow {
    Flow {
        proto,
        local: addr(VOZBOX),
        remote: addr(remote),
        conn: (proto != Proto::Udp).then_some(7),
    }
}

fn dest(proto: Proto, remote: &str) -> Dest {
    Dest {
        flow: flow(proto, remote),
        to: addr(remote),
        local: addr(VOZBOX),
        tls: None,
        reconnect: false,
    }
}

fn parse(text: &str) -> Message {
    let text = text.replace('\n', "\r\n");
    Message::parse(text.as_bytes()).unwrap()
}

fn incoming(text: &str) -> Incoming {
    let msg = parse(text);
    let checked = check_request(&msg).unwrap();
    Incoming {
        msg,
        checked,
        flow: flow(Proto::Udp, ALICE),
        key: None,
    }
}

const SDP: &str =
    "v=0\no=a 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n";

/// alice's INVITE (with an offer, or none: a late offer).
fn invite(offer: bool) -> String {
    // (`parse` turns every line end into CRLF: the length counts them so)
    let body = if offer { SDP } else { "" };
    format!(
        "INVITE sip:101@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKa1;rport\n\
         From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>\nCall-ID: c1\n\
         CSeq: 1 INVITE\nContact: <sip:100@{ALICE}>\nMax-Forwards: 70\n\
         Content-Type: application/sdp\nContent-Length: {}\n\n{}",
        body.len() + body.matches('\n').count(),
        body
    )
}

/// A call and the actions it returned, in virtual time from `t0`.
struct Lab {
    call: Call,
    t0: Instant,
    now: Instant,
    /// The INVITE of each branch as first sent (an ended call lets go of its own).
    invites: Vec<Message>,
}

/// A branch to bob at 127.0.0.1:5080+i over `proto`, with carrier credentials or not.
fn target(i: usize, proto: Proto, credentials: bool) -> Target {
    let at = format!("127.0.0.1:{}", 5080 + i);
    Target {
        dest: dest(proto, &at),
        ruri: format!("sip:101@{}", at),
        to_uri: "<sip:101@127.0.0.1>".into(),
        from_uri: "<sip:100@127.0.0.1>".into(),
        pai: None,
        credentials: credentials.then(|| ("trunk".to_string(), "secret".to_string())),
        allowed_codecs: Vec::new(),
        headers: Vec::new(),
        party: None,
    }
}

impl Lab {
    /// alice calls; `targets` are the branches; every INVITE is sent at t0.
    fn call(targets: Vec<Target>, offer: bool, limits: Limits) -> (Lab, Vec<Action>) {
        Lab::call_with(targets, offer, limits, |_| {})
    }

    /// `call`, with `setup` done to the call before its INVITEs go.
    fn call_with(
        targets: Vec<Target>,
        offer: bool,
        limits: Limits,
        setup: impl FnOnce(&mut Call),
    ) -> (Lab, Vec<Action>) {
        let inc = incoming(&invite(offer));
        let a = Leg::caller(&inc.msg, &inc.checked, dest(Proto::Udp, ALICE));
        let t0 = Instant::now();
        let info = Info {
            client: "bluebird".into(),
            start: 1_000,
            ..Info::default()
        };
        let offer_body = offer.then(|| inc.msg.body.clone());
        let forks = targets
            .iter()
            .map(|t| Fork::new(t, &inc.msg, offer_body.clone(), 70))
            .collect();
        let mut call = Call::new(
            1,
            a,
            (inc.msg, inc.checked.via, inc.flow, None),
            info,
            limits,
            (t0, 1_000_000),
        );
        call.forks = forks;
        let invites = call
            .forks
            .iter()
            .map(|f| Message::parse(&f.invite).unwrap())
            .collect();
        let mut lab = Lab {
            call,
            t0,
            now: t0,
            invites,
        };
        setup(&mut lab.call);
        let mut out = Actions::default();
        lab.call.start(t0, &mut out);
        (lab, out.take())
    }

    fn simple() -> (Lab, Vec<Action>) {
        Lab::call(vec![target(0, Proto::Udp, false)], true, LIMITS)
    }

    /// Hands `e` to the call `secs` after t0.
    fn at(&mut self, secs: f64, e: Event) -> Vec<Action> {
        self.now = self.t0 + Duration::from_secs_f64(secs);
        let mut out = Actions::default();
        self.call.handle(self.now, e, &mut out);
        out.take()
    }

    /// Wakes the call at each of its deadlines up to `secs` after t0: what it did, when.
    fn run(&mut self, secs: f64) -> Vec<(f64, Action)> {
        let end = self.t0 + Duration::from_secs_f64(secs);
        let mut all = Vec::new();
        while let Some(d) = self.call.poll_timeout() {
            if d > end || all.len() > 10_000 {
                break;
            }
            self.now = d;
            let mut out = Actions::default();
            self.call.handle(d, Event::Timeout, &mut out);
            let t = (d - self.t0).as_secs_f64();
            all.extend(out.take().into_iter().map(|a| (t, a)));
            if matches!(all.last(), Some((_, Action::Forget))) {
                break;
            }
        }
        all
    }

    /// A response from branch `i` to its INVITE.
    fn branch_says(&mut self, secs: f64, i: usize, code: u16, reason: &str) -> Vec<Action> {
        let inv =
            Message::parse(&self.call.forks[i].invite).unwrap_or_else(|_| self.invites[i].clone());
        let mut r = response(&inv, code, reason, "bobtag");
        if code < 300 && code > 100 {
            r.push_header("Contact", format!("<sip:bob@127.0.0.1:{}>", 5080 + i));
        }
        if (200..300).contains(&code) {
            r.push_header("Content-Type", "application/sdp");
            r.body = SDP.replace('\n', "\r\n").into_bytes();
        }
        self.at(secs, Event::ForkResponse { index: i, msg: r })
    }

    /// alice's ACK of the 200 to her INVITE.
    fn alice_acks(&mut self, secs: f64) -> Vec<Action> {
        let ack = format!(
            "ACK sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKack;rport\n\
             From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>;tag={}\nCall-ID: c1\n\
             CSeq: 1 ACK\nMax-Forwards: 70\nContent-Length: 0\n\n",
            self.call.a.local_tag
        );
        self.at(secs, Event::Ack(incoming(&ack)))
    }

    /// A request from alice inside her dialog (To tag ours), with CSeq `cseq`.
    fn alice_sends(&mut self, secs: f64, method: &str, cseq: u32) -> Vec<Action> {
        let text = format!(
            "{method} sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKa{cseq}x;rport\n\
             From: <sip:100@127.0.0.1>;tag=a1\nTo: <sip:101@127.0.0.1>;tag={}\nCall-ID: c1\n\
             CSeq: {cseq} {method}\nContact: <sip:100@{ALICE}>\nMax-Forwards: 70\nContent-Length: 0\n\n",
            self.call.a.local_tag
        );
        self.at(secs, Event::Request(incoming(&text)))
    }

    /// A request from branch `i` inside its dialog.
    fn bob_sends(&mut self, secs: f64, i: usize, method: &str, cseq: u32) -> Vec<Action> {
        let leg = &self.call.forks[i].leg;
        let text = format!(
            "{method} sip:vozbox@{VOZBOX} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bKb{cseq}x;rport\n\
             From: <sip:101@127.0.0.1>;tag=bobtag\nTo: <sip:100@127.0.0.1>;tag={}\nCall-ID: {}\n\
             CSeq: {cseq} {method}\nContact: <sip:bob@127.0.0.1:{}>\nMax-Forwards: 70\nContent-Length: 0\n\n",
            5080 + i,
            leg.local_tag,
            leg.call_id,
            5080 + i
        );
        self.at(secs, Event::Request(incoming(&text)))
    }

    /// The response of `side` to our request `req` (from a Send action).
    fn answer(&mut self, secs: f64, side: Side, req: &Message, code: u16) -> Vec<Action> {
        let r = response(req, code, "OK", "");
        let branch = crate::sip::validate::first_via(req.get("Via").unwrap())
            .unwrap()
            .branch()
            .unwrap()
            .to_string();
        self.at(
            secs,
            Event::Response {
                side,
                branch,
                msg: r,
            },
        )
    }
}

const LIMITS: Limits = Limits {
    no_answer: Duration::from_secs(60),
    max_duration: Duration::from_secs(14_400),
};

/// The message of a Send or Reply.
fn message(a: &Action) -> Option<Message> {
    match a {
        Action::Send { bytes, .. } => Message::parse(bytes).ok(),
        Action::Reply { sent, .. } => Message::parse(&sent.bytes).ok(),
        _ => None,
    }
}

/// "INVITE", "CANCEL", "200" …: the method of a request sent, the code of a response.
fn what(a: &Action) -> String {
    match message(a).map(|m| m.start) {
        Some(StartLine::Request { method, .. }) => method.to_string(),
        Some(StartLine::Response { code, .. }) => code.to_string(),
        None => match a {
            Action::Record { cdr, .. } => format!("CDR {} {}", cdr.disposition, cdr.sip_code),
            Action::Ended => "ended".into(),
            Action::Forget => "forget".into(),
            Action::MediaStop => "media stop".into(),
            Action::MediaAnswered => "media answered".into(),
            Action::Forward { ty } => {
                format!("forward {}", crate::routing::forward::type_name(*ty))
            }
            Action::App => "app".into(),
            Action::FailOver { next, .. } => format!("fail over {}", next.carrier),
            Action::Uncount => "uncount".into(),
            Action::Key(k) => format!("key {}", k),
            Action::Recording { on, caller } => format!(
                "record {} by {}",
                if *on { "on" } else { "off" },
                if *caller { "caller" } else { "callee" }
            ),
            Action::RecordKey { caller, k } => {
                format!(
                    "record key {} of {}",
                    k,
                    if *caller { "caller" } else { "callee" }
                )
            }
            _ => "other".into(),
        },
    }
}

fn whats(actions: &[Action]) -> Vec<String> {
    actions.iter().map(what).collect()
}

/// The actions of a run whose kind is `w`, with their times.
fn times_of(run: &[(f64, Action)], w: &str) -> Vec<f64> {
    run.iter()
        .filter(|(_, a)| what(a) == w)
        .map(|(t, _)| *t)
        .collect()
}

mod admit;
mod apps;
mod attended;
mod contact;
mod failover;
mod forwards;
mod loose_ends;
mod prack;
mod rules;
mod sessions;
mod transfer_failover;
mod transfers;
mod unrelayable;
