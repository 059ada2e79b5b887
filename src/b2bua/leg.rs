//! One side of a call as a dialog of its own (RFC 3261 §12): Call-ID, tags, URIs, our
//! CSeq, the remote target and route set, and where its bytes go. Builds the requests
//! vozbox sends on that side.

use crate::sip::hex::push_hex;
use crate::sip::message::{HeaderField, Message, StartLine, H};
use crate::sip::reply;
use crate::sip::tls::TlsPeer;
use crate::sip::transport::{Flow, Transports};
use std::net::SocketAddr;

/// Where the bytes of a leg go: the flow (socket or connection) and the address, and our
/// address as that peer sees it (Via, Contact).
#[derive(Debug, Clone)]
pub struct Dest {
    pub flow: Flow,
    pub to: SocketAddr,
    pub local: SocketAddr,
    /// How a TLS peer we called is checked when its connection must be opened again.
    pub tls: Option<TlsPeer>,
    /// A fixed address (friend, carrier) that vozbox connects to itself, again if its
    /// connection closed; false for a flow the peer opened.
    pub reconnect: bool,
}

impl Dest {
    pub fn new(flow: Flow, to: SocketAddr, transports: &Transports) -> Dest {
        let local = transports.advertised(&flow);
        Dest {
            flow,
            to,
            local,
            tls: None,
            reconnect: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Leg {
    pub call_id: String,
    /// Our URI on this leg (From of our requests), without tag.
    pub local_uri: String,
    pub local_tag: String,
    /// The peer's URI (To of our requests), without tag.
    pub remote_uri: String,
    pub remote_tag: Option<String>,
    /// The Request-URI of our in-dialog requests (the peer's Contact).
    pub remote_target: String,
    /// Route headers for our in-dialog requests, in order.
    pub route_set: Vec<String>,
    /// Our last CSeq number on this leg.
    pub local_cseq: u32,
    /// The peer's last CSeq number on this leg (its requests must raise it).
    pub remote_cseq: u32,
    /// Our Contact on this leg.
    pub contact: String,
    pub dest: Dest,
}

/// A new Via branch (RFC 3261 magic cookie + random).
pub fn branch() -> String {
    let mut b = String::with_capacity(23);
    b.push_str("z9hG4bK");
    push_hex(&mut b, rand::random::<u64>(), 16);
    b
}

/// A new tag or Call-ID part.
pub fn token() -> String {
    let mut t = String::with_capacity(16);
    push_hex(&mut t, rand::random::<u64>(), 16);
    t
}

fn with_tag(uri: &str, tag: Option<&str>) -> String {
    match tag {
        Some(t) => [uri, ";tag=", t].concat(),
        None => uri.to_string(),
    }
}

/// A request with the common headers; `body` with its type, if any.
#[allow(clippy::too_many_arguments)]
pub fn request(
    method: &str,
    uri: &str,
    via: String,
    from: String,
    to: String,
    call_id: &str,
    cseq: u32,
    extra: Vec<HeaderField>,
    body: Option<(&str, &[u8])>,
) -> Message {
    let mut headers = Vec::with_capacity(10 + extra.len());
    headers.push(HeaderField::new("Via", via));
    headers.push(HeaderField::new("Max-Forwards", "70"));
    headers.push(HeaderField::new("From", from));
    headers.push(HeaderField::new("To", to));
    headers.push(HeaderField::new("Call-ID", call_id));
    headers.push(HeaderField::new("CSeq", format!("{} {}", cseq, method)));
    headers.extend(extra);
    let body = match body {
        Some((ctype, b)) if !b.is_empty() => {
            headers.push(HeaderField::new("Content-Type", ctype));
            b.to_vec()
        }
        _ => Vec::new(),
    };
    Message {
        start: StartLine::Request {
            method: method.into(),
            uri: uri.into(),
            version: crate::sip::text::Text::from_static("SIP/2.0"),
        },
        headers,
        body,
        framing_error: None,
    }
}

/// Our Contact on a flow; a `sips:` URI on a TLS leg whose peer used `sips:` (RFC 3261
/// §8.1.1.8: the Contact of a secure dialog is a SIPS URI).
pub fn contact_for(dest: &Dest, sips: bool) -> String {
    use crate::sip::transport::Proto;
    match dest.flow.proto {
        Proto::Tls if sips => format!("<sips:vozbox@{}>", dest.local),
        Proto::Udp => format!("<sip:vozbox@{}>", dest.local),
        p => format!("<sip:vozbox@{};transport={}>", dest.local, p.as_str()),
    }
}

fn is_sips(uri: &str) -> bool {
    uri.trim_start_matches('<')
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("sips:"))
}

impl Leg {
    /// The caller's dialog (its INVITE `msg`, reached at `dest`) as vozbox's side of it:
    /// our To tag and Contact.
    pub fn caller(msg: &Message, checked: &crate::sip::validate::Checked, dest: Dest) -> Leg {
        Leg {
            call_id: msg.call_id().unwrap_or("").to_string(),
            local_uri: super::call::without_tag(msg.get("To").unwrap_or("")),
            local_tag: token(),
            remote_uri: super::call::without_tag(msg.get("From").unwrap_or("")),
            remote_tag: checked.from.tag().map(str::to_string),
            remote_target: super::fork::contact_uri(msg)
                .unwrap_or_else(|| checked.from.uri_text.to_string()),
            route_set: msg.all("Record-Route").map(str::to_string).collect(),
            local_cseq: 0,
            remote_cseq: msg.cseq().map(|c| c.0).unwrap_or(0),
            contact: contact_for(
                &dest,
                msg.request_uri()
                    .is_some_and(|u| u.scheme == crate::sip::uri::Scheme::Sips),
            ),
            dest,
        }
    }

    /// A new dialog towards a branch's target: own Call-ID, tag and CSeq.
    pub fn branch_to(t: &super::target::Target) -> Leg {
        Leg {
            call_id: [token(), token(), "@vozbox".into()].concat(),
            local_uri: t.from_uri.clone(),
            local_tag: token(),
            remote_uri: t.to_uri.clone(),
            remote_tag: None,
            remote_target: t.ruri.clone(),
            route_set: Vec::new(),
            local_cseq: 1,
            remote_cseq: 0,
            contact: contact_for(&t.dest, is_sips(&t.ruri)),
            dest: t.dest.clone(),
        }
    }

    /// Our top Via for a request on this leg with `branch`.
    pub fn via(&self, branch: &str) -> String {
        let local = self.dest.local;
        format!(
            "SIP/2.0/{} {};branch={};rport",
            self.dest.flow.proto.via_name(),
            local,
            branch
        )
    }

    pub fn from_value(&self) -> String {
        with_tag(&self.local_uri, Some(&self.local_tag))
    }

    pub fn to_value(&self) -> String {
        with_tag(&self.remote_uri, self.remote_tag.as_deref())
    }

    fn routes(&self) -> Vec<HeaderField> {
        self.route_set
            .iter()
            .map(|r| HeaderField::new("Route", r.clone()))
            .collect()
    }

    /// A new in-dialog request (BYE, re-INVITE, UPDATE, INFO …) with the next CSeq;
    /// returns it with its branch.
    pub fn in_dialog(
        &mut self,
        method: &str,
        body: Option<(&str, &[u8])>,
        mut extra: Vec<HeaderField>,
    ) -> (Message, String) {
        self.local_cseq = self.local_cseq.wrapping_add(1);
        let b = branch();
        let mut hs = self.routes();
        if method == "INVITE" || method == "UPDATE" {
            hs.push(HeaderField::new("Contact", self.contact.clone()));
        }
        hs.append(&mut extra);
        let m = request(
            method,
            &self.remote_target,
            self.via(&b),
            self.from_value(),
            self.to_value(),
            &self.call_id,
            self.local_cseq,
            hs,
            body,
        );
        (m, b)
    }

    /// The ACK for a 2xx to our INVITE with CSeq `cseq` (a new transaction, RFC 3261
    /// §13.2.2.4).
    pub fn ack_2xx(&self, cseq: u32, body: Option<(&str, &[u8])>) -> Message {
        request(
            "ACK",
            &self.remote_target,
            self.via(&branch()),
            self.from_value(),
            self.to_value(),
            &self.call_id,
            cseq,
            self.routes(),
            body,
        )
    }

    /// The ACK for a non-2xx final response to our INVITE: same branch and Request-URI as
    /// the INVITE, To from the response (RFC 3261 §17.1.1.3).
    pub fn ack_non_2xx(&self, ruri: &str, branch: &str, cseq: u32, to: &str) -> Message {
        request(
            "ACK",
            ruri,
            self.via(branch),
            self.from_value(),
            to.to_string(),
            &self.call_id,
            cseq,
            Vec::new(),
            None,
        )
    }

    /// The CANCEL of our INVITE (RFC 3261 §9.1): same branch, Request-URI, Call-ID, From,
    /// To (no tag) and CSeq number.
    pub fn cancel(&self, ruri: &str, branch: &str, cseq: u32) -> Message {
        request(
            "CANCEL",
            ruri,
            self.via(branch),
            self.from_value(),
            self.remote_uri.clone(),
            &self.call_id,
            cseq,
            Vec::new(),
            None,
        )
    }
}

/// The INVITE of a branch, carrying the caller's offer (as filtered for that branch).
#[allow(clippy::too_many_arguments)]
pub fn build_invite(
    leg: &Leg,
    ruri: &str,
    pai: Option<&str>,
    branch: &str,
    a_invite: &Message,
    offer: Option<&[u8]>,
    max_forwards: u32,
    auth: Option<(&str, String)>,
    headers: &[(String, String)],
) -> Message {
    let mut extra = vec![
        HeaderField::new("Contact", leg.contact.clone()),
        HeaderField::new("Allow", reply::ALLOW),
        HeaderField::new("Supported", "100rel, timer"),
    ];
    for (name, value) in headers {
        extra.push(HeaderField::new(name, value.clone()));
    }
    if let Some(p) = pai {
        extra.push(HeaderField::new("P-Asserted-Identity", p));
    }
    if let Some((name, v)) = auth {
        extra.push(HeaderField::new(name, v));
    }
    let mut m = request(
        "INVITE",
        ruri,
        leg.via(branch),
        leg.from_value(),
        leg.to_value(),
        &leg.call_id,
        leg.local_cseq,
        extra,
        offer.map(|b| (a_invite.content_type().unwrap_or("application/sdp"), b)),
    );
    if let Some(h) = m.headers.iter_mut().find(|h| h.kind == H::MaxForwards) {
        h.value = max_forwards.to_string().into();
    }
    m
}
