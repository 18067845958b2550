//! `keeperctl keys import` and `keys export`: a secret goes in and comes back out unchanged, files
//! are private, nothing is overwritten.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn keeperctl(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keeperctl"))
        .args(args)
        .current_dir(dir)
        .env_remove("KEEPER_KEYSTORE_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn secrets_round_trip_through_import_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("pw"), "s3cret\n").unwrap();
    // anvil's account 0 (a well-known test key) and a BLS secret below the group order.
    let ecdsa = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    let bls = format!("0x{}", "11".repeat(32));
    std::fs::write(d.join("ecdsa.hex"), format!("{ecdsa}\n")).unwrap();
    std::fs::write(d.join("bls.hex"), &bls).unwrap();

    let imported = json(&keeperctl(
        &[
            "--json",
            "keys",
            "import",
            "--kind",
            "ecdsa",
            "--secret-file",
            "ecdsa.hex",
            "--out",
            "op.json",
            "--password-file",
            "pw",
        ],
        d,
    ));
    assert_eq!(imported["address"], "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    let imported_bls = json(&keeperctl(
        &[
            "--json",
            "keys",
            "import",
            "--kind",
            "bls",
            "--secret-file",
            "bls.hex",
            "--out",
            "bls.json",
            "--kdf",
            "pbkdf2",
            "--password-file",
            "pw",
        ],
        d,
    ));
    assert_eq!(imported_bls["kind"], "bls");

    for (keystore, out, secret) in [("op.json", "op.hex", ecdsa), ("bls.json", "bls.out", bls.as_str())] {
        let exported =
            json(&keeperctl(&["--json", "keys", "export", keystore, "--out", out, "--password-file", "pw"], d));
        assert_eq!(exported["file"], keystore);
        assert_eq!(std::fs::read_to_string(d.join(out)).unwrap().trim(), secret);
        assert_eq!(std::fs::metadata(d.join(out)).unwrap().permissions().mode() & 0o777, 0o600);
        // Never overwritten.
        let again = keeperctl(&["keys", "export", keystore, "--out", out, "--password-file", "pw"], d);
        assert_eq!(again.status.code(), Some(1));
    }

    // A wrong password exports nothing; a secret that is not a key is refused.
    std::fs::write(d.join("wrong"), "guess").unwrap();
    let wrong = keeperctl(&["keys", "export", "op.json", "--out", "x.hex", "--password-file", "wrong"], d);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(!d.join("x.hex").exists());
    std::fs::write(d.join("zero.hex"), "00".repeat(32)).unwrap();
    let zero = keeperctl(
        &["keys", "import", "--kind", "ecdsa", "--secret-file", "zero.hex", "--out", "z.json", "--password-file", "pw"],
        d,
    );
    assert_eq!(zero.status.code(), Some(1));
    assert!(!d.join("z.json").exists());
}
