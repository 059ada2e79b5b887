//! The kernel fast path's program is embedded compiled (`src/media/relay.bpf.o`, so that
//! building vozbox needs no BPF compiler): it must be what `bpf/relay.c` compiles to.
//! Needs clang; the bytes are compared with clang 14 (Debian 12's, which built the
//! object): another version only has to compile the source.

use std::process::Command;

#[test]
fn the_embedded_bpf_object_is_the_one_bpf_relay_c_compiles_to() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::env::temp_dir().join(format!("vozbox-relay-{}.bpf.o", std::process::id()));
    let status = Command::new("clang")
        .args(["-O2", "-target", "bpf", "-c"])
        .arg(format!("{root}/bpf/relay.c"))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang (apt-get install clang) compiles bpf/relay.c");
    assert!(status.success(), "clang failed on bpf/relay.c");
    let fresh = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let embedded = std::fs::read(format!("{root}/src/media/relay.bpf.o")).unwrap();
    let version = Command::new("clang").arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    if !version.contains("clang version 14.") {
        eprintln!("{version}: not clang 14, the object's bytes are not compared");
        assert!(!fresh.is_empty());
        return;
    }
    assert!(
        fresh == embedded,
        "src/media/relay.bpf.o is not bpf/relay.c's: rebuild it with \
         `clang -O2 -target bpf -c bpf/relay.c -o src/media/relay.bpf.o`"
    );
}
