//! The provisioning texts the tests share: the basic client with alice, bob and a PBX
//! friend (`PROVISION`), and the client in Spain for external calls (`SPANISH_CLIENT`).

/// Brand `acme`, client `bluebird` on 127.0.0.1, alice (100), bob (101) and the
/// register-mode friend `hq-asterisk` (2xx).
pub const PROVISION: &str = r#"
[[brand]]
name = "acme"

[[client]]
brand = "acme"
name = "bluebird"
domain = "127.0.0.1"

[[user]]
client = "bluebird"
name = "alice"
extension = "100"
password = "Alice-Secret-1"

[[user]]
client = "bluebird"
name = "bob"
extension = "101"
password = "Bob-Secret-22"

[[friend]]
client = "bluebird"
name = "hq-asterisk"
mode = "register"
password = "HqAsterisk-Pass+1"
priority = 1
patterns = ["^2[0-9]{2}$"]
"#;

/// Brand `acme` and its client `bluebird` in Spain (country `ES`, area code 94, its DDI
/// +34944000100 the outgoing one), with alice (100): the lab of the tests of external
/// calls, which add their carriers and friends after it.
pub const SPANISH_CLIENT: &str = r#"
[[brand]]
name = "acme"

[[client]]
brand = "acme"
name = "bluebird"
domain = "127.0.0.1"
outgoing_ddi = "+34944000100"
country = "ES"
area_code = "94"

[[user]]
client = "bluebird"
name = "alice"
extension = "100"
password = "Alice-Secret-1"

[[ddi]]
number = "+34944000100"
client = "bluebird"
"#;
