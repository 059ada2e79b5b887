//! The country of an address, from a MaxMind database (`[policy] geoip_database`: a
//! GeoIP2 or GeoLite2 Country or City file). Read whole into memory at start; a lookup is
//! a walk of its search tree, no I/O and no lock.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
    path: PathBuf,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GeoIp({})", self.path.display())
    }
}

/// Whether a database of this type has countries: GeoIP2/GeoLite2 Country and City (and
/// their Enterprise and test variants); ASN, ISP, Anonymous-IP … databases do not.
pub fn has_countries(database_type: &str) -> bool {
    database_type.contains("Country") || database_type.contains("City")
}

impl GeoIp {
    /// Opens `path`; a missing, unreadable or non-country database is an error naming it.
    pub fn open(path: &Path) -> Result<GeoIp, String> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| {
            format!(
                "[policy] geoip_database {}: not a MaxMind database ({})",
                path.display(),
                e
            )
        })?;
        let kind = reader.metadata().database_type.clone();
        if !has_countries(&kind) {
            return Err(format!(
                "[policy] geoip_database {}: a {:?} database has no countries (expected a GeoIP2 or GeoLite2 Country or City database)",
                path.display(),
                kind
            ));
        }
        Ok(GeoIp {
            reader,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ISO 3166 alpha-2 code of the country `ip` is in, if the database knows it.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let found = self.reader.lookup(ip).ok()?;
        let c: maxminddb::geoip2::Country = found.decode().ok()??;
        c.country.iso_code.map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    }

    #[test]
    fn maxminds_test_database_gives_its_documented_countries() {
        let g = GeoIp::open(&data("GeoIP2-Country-Test.mmdb")).unwrap();
        let c = |ip: &str| g.country(ip.parse().unwrap());
        assert_eq!(c("81.2.69.160").as_deref(), Some("GB"));
        assert_eq!(c("89.160.20.112").as_deref(), Some("SE"));
        assert_eq!(c("2001:218::1").as_deref(), Some("JP"));
        assert_eq!(c("10.0.0.1"), None);
    }

    #[test]
    fn the_loopback_database_places_test_addresses() {
        let g = GeoIp::open(&data("loop-country.mmdb")).unwrap();
        let c = |ip: &str| g.country(ip.parse().unwrap());
        assert_eq!(c("127.0.0.2").as_deref(), Some("RU"));
        assert_eq!(c("127.0.0.3").as_deref(), Some("US"));
        assert_eq!(c("::1").as_deref(), Some("DE"));
        assert_eq!(c("127.0.0.1"), None);
    }

    #[test]
    fn a_missing_file_or_one_without_countries_is_named() {
        let e = GeoIp::open(Path::new("/nonexistent/geo.mmdb")).unwrap_err();
        assert!(e.contains("/nonexistent/geo.mmdb"), "{}", e);
        let e = GeoIp::open(&data("rfc4475/insuf.dat")).unwrap_err();
        assert!(e.contains("insuf.dat"), "{}", e);
        assert!(!has_countries("GeoLite2-ASN"));
        assert!(has_countries("GeoIP2-City") && has_countries("GeoLite2-Country"));
    }
}
