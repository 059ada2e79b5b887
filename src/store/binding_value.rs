//! A binding's stored value. Bindings are the one row written at the rate of registrations
//! (10,000 a second and more), so they are not JSON like every other row: a version byte,
//! then the fields in a fixed order — strings as a 32-bit length and their bytes, numbers
//! little-endian, an address as its family, IP, port (and IPv6 scope). Rows written as JSON
//! by schema 1 are still read (a JSON document starts with `{`, never with a version byte).
//! A field added later gets a new version byte, a decoder for the old ones, and a new
//! `SCHEMA_VERSION` (so that a vozbox that cannot read the new rows refuses the file).

use crate::model::{Binding, BindingOwner};
use crate::sip::transport::{Flow, Proto};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

const V1: u8 = 1;

pub fn encode(b: &Binding) -> Vec<u8> {
    let strings = b.aor.len()
        + b.client.len()
        + b.contact.len()
        + b.call_id.len()
        + b.user_agent.as_ref().map_or(0, |u| u.len())
        + b.path.iter().map(|p| p.len() + 4).sum::<usize>();
    let mut out = Vec::with_capacity(strings + 96);
    out.push(V1);
    put_str(&mut out, &b.aor);
    put_str(&mut out, &b.client);
    out.push(match b.owner {
        BindingOwner::Terminal => 0,
        BindingOwner::Friend => 1,
    });
    put_str(&mut out, &b.contact);
    match b.q {
        Some(q) => {
            out.push(1);
            out.extend_from_slice(&q.to_bits().to_le_bytes());
        }
        None => out.push(0),
    }
    out.extend_from_slice(&b.expires_at.to_le_bytes());
    put_str(&mut out, &b.call_id);
    out.extend_from_slice(&b.cseq.to_le_bytes());
    out.push(match b.flow.proto {
        Proto::Udp => 0,
        Proto::Tcp => 1,
        Proto::Tls => 2,
    });
    put_addr(&mut out, &b.flow.local);
    put_addr(&mut out, &b.flow.remote);
    match b.flow.conn {
        Some(c) => {
            out.push(1);
            out.extend_from_slice(&c.to_le_bytes());
        }
        None => out.push(0),
    }
    out.push(b.natted as u8);
    match &b.user_agent {
        Some(u) => {
            out.push(1);
            put_str(&mut out, u);
        }
        None => out.push(0),
    }
    out.extend_from_slice(&(b.path.len() as u32).to_le_bytes());
    for p in &b.path {
        put_str(&mut out, p);
    }
    out
}

/// A stored value back into a binding; what is wrong is named with its byte offset.
pub fn decode(bytes: &[u8]) -> Result<Binding, String> {
    match bytes.first() {
        Some(b'{') => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
        Some(&V1) => {
            let mut r = Reader { bytes, at: 1 };
            let b = r.binding()?;
            if r.at != bytes.len() {
                return Err(format!("{} bytes after the binding", bytes.len() - r.at));
            }
            Ok(b)
        }
        Some(v) => Err(format!("unknown binding value version {}", v)),
        None => Err("empty binding value".into()),
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_addr(out: &mut Vec<u8>, a: &SocketAddr) {
    match a {
        SocketAddr::V4(v4) => {
            out.push(4);
            out.extend_from_slice(&v4.ip().octets());
        }
        SocketAddr::V6(v6) => {
            out.push(6);
            out.extend_from_slice(&v6.ip().octets());
            out.extend_from_slice(&v6.scope_id().to_le_bytes());
        }
    }
    out.extend_from_slice(&a.port().to_le_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let end = self.at.checked_add(N).filter(|e| *e <= self.bytes.len());
        let part = end.and_then(|e| self.bytes.get(self.at..e));
        let Some(part) = part.and_then(|p| <[u8; N]>::try_from(p).ok()) else {
            return Err(format!("value cut short at byte {}", self.at));
        };
        self.at += N;
        Ok(part)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take::<1>()?[0])
    }

    fn flag(&mut self) -> Result<bool, String> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(format!("flag {} at byte {}", v, self.at - 1)),
        }
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take()?))
    }

    fn string(&mut self) -> Result<String, String> {
        let at = self.at;
        let len = self.u32()? as usize;
        let part = self
            .at
            .checked_add(len)
            .and_then(|end| self.bytes.get(self.at..end))
            .ok_or_else(|| format!("string of {} bytes at byte {} cut short", len, at))?;
        let s = std::str::from_utf8(part)
            .map_err(|_| format!("string at byte {} is not UTF-8", at))?
            .to_string();
        self.at += len;
        Ok(s)
    }

    fn addr(&mut self) -> Result<SocketAddr, String> {
        let ip = match self.byte()? {
            4 => IpAddr::V4(Ipv4Addr::from(self.take::<4>()?)),
            6 => {
                let ip = Ipv6Addr::from(self.take::<16>()?);
                let scope = self.u32()?;
                let port = u16::from_le_bytes(self.take()?);
                // flowinfo is not kept (0 for the UDP and TCP peers Linux reports)
                return Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope)));
            }
            f => return Err(format!("address family {} at byte {}", f, self.at - 1)),
        };
        Ok(SocketAddr::new(ip, u16::from_le_bytes(self.take()?)))
    }

    fn binding(&mut self) -> Result<Binding, String> {
        let aor = self.string()?;
        let client = self.string()?;
        let owner = match self.byte()? {
            0 => BindingOwner::Terminal,
            1 => BindingOwner::Friend,
            v => return Err(format!("owner {} at byte {}", v, self.at - 1)),
        };
        let contact = self.string()?;
        let q = if self.flag()? {
            Some(f32::from_bits(self.u32()?))
        } else {
            None
        };
        let expires_at = self.u64()?;
        let call_id = self.string()?;
        let cseq = self.u32()?;
        let proto = match self.byte()? {
            0 => Proto::Udp,
            1 => Proto::Tcp,
            2 => Proto::Tls,
            v => return Err(format!("transport {} at byte {}", v, self.at - 1)),
        };
        let local = self.addr()?;
        let remote = self.addr()?;
        let conn = if self.flag()? {
            Some(self.u64()?)
        } else {
            None
        };
        let natted = self.flag()?;
        let user_agent = if self.flag()? {
            Some(self.string()?)
        } else {
            None
        };
        let n = self.u32()? as usize;
        // each path entry takes at least its 4-byte length: a count beyond that is a lie
        if n > (self.bytes.len() - self.at) / 4 {
            return Err(format!("{} path entries at byte {}", n, self.at - 4));
        }
        let mut path = Vec::with_capacity(n);
        for _ in 0..n {
            path.push(self.string()?);
        }
        Ok(Binding {
            aor,
            client,
            owner,
            contact,
            q,
            expires_at,
            call_id,
            cseq,
            flow: Flow {
                proto,
                local,
                remote,
                conn,
            },
            natted,
            user_agent,
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> Binding {
        Binding {
            aor: "sip:100@example.com".into(),
            client: "acme".into(),
            owner: BindingOwner::Friend,
            contact: "sip:100@[2001:db8::1]:5070;transport=tcp;ob".into(),
            q: Some(0.5),
            expires_at: 1_800_000_000,
            call_id: "a84b4c76e66710@pc33".into(),
            cseq: 4711,
            flow: Flow {
                proto: Proto::Tls,
                local: "[2001:db8::2]:5061".parse().unwrap(),
                remote: SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 40000, 0, 3)),
                conn: Some(77),
            },
            natted: true,
            user_agent: Some("Ünïcode phone/1.0".into()),
            path: vec!["<sip:p1.example.com;lr>".into(), "<sip:p2;lr>".into()],
        }
    }

    #[test]
    fn a_binding_reads_back_as_written() {
        let b = binding();
        assert_eq!(decode(&encode(&b)), Ok(b));
        let plain = Binding {
            q: None,
            user_agent: None,
            path: Vec::new(),
            natted: false,
            owner: BindingOwner::Terminal,
            flow: Flow {
                proto: Proto::Udp,
                local: "127.0.0.1:5060".parse().unwrap(),
                remote: "10.1.2.3:5060".parse().unwrap(),
                conn: None,
            },
            ..binding()
        };
        assert_eq!(decode(&encode(&plain)), Ok(plain));
    }

    #[test]
    fn a_schema_1_json_row_still_reads() {
        let b = binding();
        let json = serde_json::to_vec(&Binding {
            flow: Flow {
                remote: "[fe80::1]:40000".parse().unwrap(),
                ..b.flow.clone()
            },
            ..b.clone()
        })
        .unwrap();
        assert_eq!(decode(&json).map(|d| d.call_id), Ok(b.call_id));
    }

    #[test]
    fn a_schema_1_file_opens_keeps_its_json_bindings_and_is_marked_2() {
        use super::super::schema::{BINDINGS, META};
        use super::super::{writer::Op, Store};
        use redb::ReadableDatabase;
        use std::sync::Arc;
        let dir = std::env::temp_dir().join(format!("vozbox-bv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.redb");
        let old = Binding {
            flow: Flow {
                remote: "10.0.0.9:5060".parse().unwrap(),
                ..binding().flow
            },
            ..binding()
        };
        {
            // what a vozbox of schema 1 left: its version and a JSON binding
            let db = redb::Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            {
                tx.open_table(META)
                    .unwrap()
                    .insert("schema_version", 1)
                    .unwrap();
                let json = serde_json::to_vec(&old).unwrap();
                tx.open_table(BINDINGS)
                    .unwrap()
                    .insert(old.key().as_str(), json.as_slice())
                    .unwrap();
            }
            tx.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.load_bindings().unwrap(), vec![old.clone()]);
        let new = Binding {
            aor: "sip:101@example.com".into(),
            ..binding()
        };
        store.write_ops(&[Op::Put(Arc::new(new.clone()))]).unwrap();
        let mut all = store.load_bindings().unwrap();
        all.sort_by(|a, b| a.aor.cmp(&b.aor));
        assert_eq!(all, vec![old, new]);
        drop(store);
        let db = redb::Database::open(&path).unwrap();
        let tx = db.begin_read().unwrap();
        let v = tx.open_table(META).unwrap().get("schema_version").unwrap();
        assert_eq!(v.map(|v| v.value()), Some(2));
        drop(tx);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_fuzz_seeds_decode_and_write_back_byte_for_byte() {
        for seed in [
            &include_bytes!("../../fuzz/seeds/binding/udp")[..],
            &include_bytes!("../../fuzz/seeds/binding/tls-v6")[..],
        ] {
            let b = decode(seed).unwrap();
            assert_eq!(encode(&b), seed);
        }
        assert!(decode(include_bytes!("../../fuzz/seeds/binding/json")).is_ok());
    }

    #[test]
    fn every_cut_and_corruption_is_an_error_not_a_panic() {
        let bytes = encode(&binding());
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "cut at {}", n);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        // every byte changed to every value: decodes or errs, never panics
        for i in 0..bytes.len() {
            for v in [0u8, 1, 2, 7, 0x7f, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                let _ = decode(&b);
            }
        }
        assert!(decode(&[9]).unwrap_err().contains("version 9"));
        // a huge path count is refused before anything is reserved for it
        let mut huge = encode(&Binding {
            path: Vec::new(),
            ..binding()
        });
        let at = huge.len() - 4;
        huge[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).unwrap_err().contains("path entries"));
    }
}
