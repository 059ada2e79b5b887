//! SIP over TLS: the server certificate (loaded from `[tls]`, made self-signed on the first
//! start when there is none, swapped on reload without a restart), the acceptor for `tls:`
//! listeners and the connector for TLS friends and carriers (system roots, or a pinned
//! SHA-256 fingerprint for a self-signed PBX). TLS 1.2 and 1.3 only.

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
};
use tokio_rustls::{TlsAcceptor, TlsConnector};

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(crypto::ring::default_provider()))
        .clone()
}

/// The `[tls]` settings of `config.toml` (embedded in `config::Config`): where the server
/// certificate and key are, what a self-signed one is made for, how long a handshake may take.
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// PEM certificate (chain) of the `tls:` listeners. When neither it nor the key
    /// exists, the first start makes a self-signed one for `names` and stores both here.
    pub certificate: PathBuf,
    /// PEM private key of the certificate.
    pub key: PathBuf,
    /// DNS names and IP addresses a self-signed certificate is made for.
    pub names: Vec<String>,
    /// Seconds a TLS handshake may take before the connection is dropped.
    pub handshake_timeout: u64,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            certificate: "certs/vozbox.crt".into(),
            key: "certs/vozbox.key".into(),
            names: vec!["localhost".into(), "127.0.0.1".into()],
            handshake_timeout: 5,
        }
    }
}

/// How a TLS peer we call is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPeer {
    /// The name (or IP address) its certificate must carry.
    pub name: String,
    /// A pinned SHA-256 fingerprint of its certificate: then only that certificate is
    /// accepted, whatever signed it (self-signed PBXs).
    pub fingerprint: Option<[u8; 32]>,
}

/// The server side's certificate and the client side's trust.
pub struct Tls {
    files: TlsSettings,
    current: Arc<Current>,
    acceptor: TlsAcceptor,
    pub handshake_timeout: std::time::Duration,
}

#[derive(Debug)]
struct Current(ArcSwap<Loaded>);

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    fingerprint: String,
}

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load().key.clone())
    }
}

impl Tls {
    /// Loads the certificate and key named in `[tls]`; when neither file exists, makes a
    /// self-signed certificate for `names` first and stores it there. Returns the TLS
    /// state and, when a certificate was made, a line for the operator.
    pub fn start(files: &TlsSettings) -> Result<(Tls, Option<String>), String> {
        let (cert, key) = (Path::new(&files.certificate), Path::new(&files.key));
        let mut made = None;
        if !cert.exists() && !key.exists() {
            make_self_signed(files)?;
            made = Some(files.certificate.display().to_string());
        }
        let loaded = load(files)?;
        let made = made.map(|path| {
            format!(
                "Made a self-signed TLS certificate for {} in {}; SHA-256 fingerprint {}",
                files.names.join(", "),
                path,
                loaded.fingerprint
            )
        });
        // The system roots are read now, not on the first TLS call (under a call's lock).
        std::thread::spawn(system_roots);
        let current = Arc::new(Current(ArcSwap::from_pointee(loaded)));
        let server = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| format!("TLS: {}", e))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        Ok((
            Tls {
                files: files.clone(),
                current,
                acceptor: TlsAcceptor::from(Arc::new(server)),
                handshake_timeout: std::time::Duration::from_secs(files.handshake_timeout),
            },
            made,
        ))
    }

    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// SHA-256 fingerprint of the certificate new connections get (AB:CD:… form).
    pub fn fingerprint(&self) -> String {
        self.current.0.load().fingerprint.clone()
    }

    /// Reads the certificate and key again; new connections get them, open ones keep
    /// theirs. A file that does not load leaves the current certificate in place.
    pub fn reload(&self) -> Result<String, String> {
        let loaded = load(&self.files)?;
        let fp = loaded.fingerprint.clone();
        self.current.0.store(Arc::new(loaded));
        Ok(fp)
    }

    /// A connector for `peer`, and the server name to ask it for.
    pub fn connector(peer: &TlsPeer) -> Result<(TlsConnector, ServerName<'static>), String> {
        let name = ServerName::try_from(peer.name.trim_matches(['[', ']']).to_string())
            .map_err(|_| format!("{:?} is not a host name or IP address", peer.name))?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| format!("TLS: {}", e))?;
        let cfg = match peer.fingerprint {
            Some(fp) => return Ok((TlsConnector::from(pinned_config(fp)?), name)),
            None => builder
                .with_root_certificates(system_roots())
                .with_no_client_auth(),
        };
        Ok((TlsConnector::from(Arc::new(cfg)), name))
    }
}

/// A client configuration that accepts exactly the certificate with fingerprint `fp`
/// (a TLS friend's pinned certificate; the CLI reaching the admin API over TLS).
pub fn pinned_config(fp: [u8; 32]) -> Result<Arc<ClientConfig>, String> {
    Ok(Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| format!("TLS: {}", e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned(fp)))
            .with_no_client_auth(),
    ))
}

/// The SHA-256 of the first certificate of the `[tls] certificate` file (what the server
/// presents), read without the key.
pub fn certificate_fingerprint(files: &TlsSettings) -> Result<[u8; 32], String> {
    let path = files.certificate.display();
    let pem = std::fs::read(&files.certificate)
        .map_err(|e| format!("[tls] certificate {}: {}", path, e))?;
    match CertificateDer::pem_slice_iter(&pem).next() {
        Some(Ok(c)) => Ok(Sha256::digest(c.as_ref()).into()),
        _ => Err(format!(
            "[tls] certificate {}: no PEM certificate in it",
            path
        )),
    }
}

/// The system's trusted roots, read once.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!("system certificates: {}", e);
            }
            let (added, _) = store.add_parsable_certificates(found.certs);
            tracing::debug!("{} system root certificates", added);
            Arc::new(store)
        })
        .clone()
}

/// `AB:CD:…` — the form browsers and `openssl x509 -fingerprint -sha256` print.
pub fn fingerprint_of(der: &[u8]) -> String {
    fingerprint_hex(&Sha256::digest(der))
}

pub fn fingerprint_hex(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{:02X}", b)).collect();
    hex.join(":")
}

/// Parses a SHA-256 fingerprint written with or without colons, in either case.
pub fn parse_fingerprint(s: &str) -> Option<[u8; 32]> {
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn load(files: &TlsSettings) -> Result<Loaded, String> {
    let cpath = files.certificate.display();
    let kpath = files.key.display();
    let pem = std::fs::read(&files.certificate)
        .map_err(|e| format!("[tls] certificate {}: {}", cpath, e))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("[tls] certificate {}: not PEM: {}", cpath, e))?;
    let Some(first) = chain.first() else {
        return Err(format!(
            "[tls] certificate {}: no certificate in it (expected PEM \"BEGIN CERTIFICATE\")",
            cpath
        ));
    };
    let (_, parsed) = x509_parser::parse_x509_certificate(first).map_err(|e| {
        format!(
            "[tls] certificate {}: not an X.509 certificate: {}",
            cpath, e
        )
    })?;
    let validity = parsed.validity();
    let now = x509_parser::time::ASN1Time::now();
    if now > validity.not_after {
        return Err(format!(
            "[tls] certificate {}: expired on {}",
            cpath, validity.not_after
        ));
    }
    if now < validity.not_before {
        return Err(format!(
            "[tls] certificate {}: not valid before {}",
            cpath, validity.not_before
        ));
    }
    let key_pem = std::fs::read(&files.key).map_err(|e| format!("[tls] key {}: {}", kpath, e))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "[tls] key {}: no private key in it (expected PEM): {}",
            kpath, e
        )
    })?;
    let fingerprint = fingerprint_of(first);
    let key = CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| format!("[tls] key {}: {} (does it belong to {}?)", kpath, e, cpath))?;
    Ok(Loaded {
        key: Arc::new(key),
        fingerprint,
    })
}

fn make_self_signed(files: &TlsSettings) -> Result<(), String> {
    let mut params = rcgen::CertificateParams::new(files.names.clone())
        .map_err(|e| format!("[tls] names: {}", e))?;
    let year = 1970
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() / 31_556_952)
            .unwrap_or(56) as i32;
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, files.names[0].clone());
    let key = rcgen::KeyPair::generate().map_err(|e| format!("TLS key: {}", e))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("TLS certificate: {}", e))?;
    for p in [&files.certificate, &files.key] {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {}", dir.display(), e))?;
        }
    }
    write_new(&files.key, key.serialize_pem().as_bytes(), 0o600)
        .map_err(|e| format!("[tls] key {}: {}", files.key.display(), e))?;
    write_new(&files.certificate, cert.pem().as_bytes(), 0o644)
        .map_err(|e| format!("[tls] certificate {}: {}", files.certificate.display(), e))
}

/// A new file with `mode` (never through a symlink or over an existing file).
fn write_new(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    f.write_all(data)
}

/// Accepts exactly the certificate with the pinned fingerprint; the handshake's signatures
/// are still checked against it.
#[derive(Debug)]
struct Pinned([u8; 32]);

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if Sha256::digest(end_entity.as_ref()).as_slice() == self.0 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> TlsSettings {
        TlsSettings {
            certificate: dir.join("c/vozbox.crt"),
            key: dir.join("c/vozbox.key"),
            ..TlsSettings::default()
        }
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("vozbox-tls-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn first_start_makes_a_certificate_and_reload_picks_up_a_new_one() {
        let d = temp("make");
        let f = files(&d);
        let (tls, made) = Tls::start(&f).unwrap();
        let line = made.unwrap();
        assert!(line.contains(&tls.fingerprint()), "{}", line);
        let key_mode = std::fs::metadata(&f.key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(key_mode.permissions().mode() & 0o777, 0o600);
        // A second start keeps the same certificate.
        let (again, made) = Tls::start(&f).unwrap();
        assert!(made.is_none());
        assert_eq!(again.fingerprint(), tls.fingerprint());
        // Replace the files: reload changes the fingerprint.
        let before = tls.fingerprint();
        std::fs::remove_file(&f.key).unwrap();
        std::fs::remove_file(&f.certificate).unwrap();
        make_self_signed(&f).unwrap();
        let after = tls.reload().unwrap();
        assert_ne!(before, after);
        assert_eq!(tls.fingerprint(), after);
        // A broken file leaves the current certificate in place.
        std::fs::write(&f.certificate, "garbage").unwrap();
        let e = tls.reload().unwrap_err();
        assert!(e.contains("no certificate in it"), "{}", e);
        assert_eq!(tls.fingerprint(), after);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn bad_files_are_named() {
        let d = temp("bad");
        let f = files(&d);
        std::fs::create_dir_all(d.join("c")).unwrap();
        std::fs::write(&f.certificate, "x").unwrap();
        let e = Tls::start(&f).err().unwrap();
        assert!(
            e.contains("vozbox.crt") && e.contains("no certificate"),
            "{}",
            e
        );
        // A key that belongs to another certificate.
        let other = TlsSettings {
            certificate: d.join("o/x.crt"),
            key: d.join("o/x.key"),
            ..TlsSettings::default()
        };
        make_self_signed(&other).unwrap();
        std::fs::remove_file(&f.certificate).unwrap();
        make_self_signed(&f).unwrap();
        // Never written over an existing file.
        assert!(make_self_signed(&f).is_err());
        std::fs::copy(&other.key, &f.key).unwrap();
        let e = Tls::start(&f).err().unwrap();
        assert!(e.contains("vozbox.key"), "{}", e);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let fp = fingerprint_of(b"abc");
        let a = parse_fingerprint(&fp).unwrap();
        let b = parse_fingerprint(&fp.replace(':', "").to_lowercase()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_slice(), Sha256::digest(b"abc").as_slice());
        assert!(parse_fingerprint("AB:CD").is_none());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_none());
        assert!(parse_fingerprint(&"é".repeat(32)).is_none());
        assert!(parse_fingerprint(&"+a".repeat(32)).is_none());
    }
}
