//! `keeperctl keys ...` as a user runs it: the real binary, files on disk.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

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
fn bls_key_is_created_private_and_shown_without_password() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
    let created = json(&keeperctl(
        &["keys", "new-bls", "--out", "keys/bls.json", "--password-file", "pw", "--kdf", "pbkdf2", "--json"],
        dir.path(),
    ));
    assert_eq!(created["kind"], "bls");
    let public_key = created["publicKey"].as_str().unwrap().to_owned();
    assert_eq!(public_key.len(), 2 + 96);

    let file = dir.path().join("keys/bls.json");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(dir.path().join("keys")).unwrap().permissions().mode() & 0o777, 0o700);
    let keystore: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(keystore["version"], 4);
    assert_eq!(keystore["crypto"]["kdf"]["function"], "pbkdf2");
    assert_eq!(format!("0x{}", keystore["pubkey"].as_str().unwrap()), public_key);

    let shown = json(&keeperctl(&["keys", "show", "keys/bls.json", "--json"], dir.path()));
    assert_eq!(shown["publicKey"], public_key.as_str());

    // Never overwritten.
    let again = keeperctl(&["keys", "new-bls", "--out", "keys/bls.json", "--password-file", "pw"], dir.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn ecdsa_key_needs_its_password() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret").unwrap();
    std::fs::write(dir.path().join("wrong"), "guess").unwrap();
    let created =
        json(&keeperctl(&["keys", "new-ecdsa", "--out", "op.json", "--password-file", "pw", "--json"], dir.path()));
    let address = created["address"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::metadata(dir.path().join("op.json")).unwrap().permissions().mode() & 0o777, 0o600);

    let shown = json(&keeperctl(&["keys", "show", "op.json", "--password-file", "pw", "--json"], dir.path()));
    assert_eq!(shown["address"], address.as_str());

    let wrong = keeperctl(&["keys", "show", "op.json", "--password-file", "wrong"], dir.path());
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong password"));

    // No terminal, no file, no environment: a clear error rather than a hang.
    let none = keeperctl(&["keys", "show", "op.json"], dir.path());
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("--password-file"));
}

#[test]
fn usage_errors_exit_2_and_help_and_version_work() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(keeperctl(&["keys", "new-bls"], dir.path()).status.code(), Some(2));
    assert_eq!(keeperctl(&["no-such-command"], dir.path()).status.code(), Some(2));
    let help = keeperctl(&["--help"], dir.path());
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("keys"));
    let version = keeperctl(&["--version"], dir.path());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("keeperctl {}", keeper_shared::version::long())
    );
}

#[test]
fn missing_and_garbage_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = keeperctl(&["keys", "show", "nope.json"], dir.path());
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
    std::fs::write(dir.path().join("junk.json"), "{not json").unwrap();
    let junk = keeperctl(&["keys", "show", "junk.json"], dir.path());
    assert_eq!(junk.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&junk.stderr).contains("JSON"), "{}", String::from_utf8_lossy(&junk.stderr));
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

/// An operator arriving with keystores (EIP-2335 from a validator client, Web3 v3 from geth)
/// imports the files themselves: opened with their password first, then re-encrypted under a new
/// password or copied unchanged; a wrong password writes nothing.
#[test]
fn existing_keystores_are_imported_checked_then_re_encrypted_or_copied() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("old"), "old-password\n").unwrap();
    std::fs::write(d.join("new"), "new-password\n").unwrap();
    std::fs::write(d.join("wrong"), "guess\n").unwrap();
    let bls = json(&keeperctl(
        &["--json", "keys", "new-bls", "--out", "validator.json", "--kdf", "pbkdf2", "--password-file", "old"],
        d,
    ));
    let ecdsa = json(&keeperctl(
        &["--json", "keys", "new-ecdsa", "--out", "geth.json", "--kdf", "pbkdf2", "--password-file", "old"],
        d,
    ));

    for (kind, source, id) in [("bls", "validator.json", "publicKey"), ("ecdsa", "geth.json", "address")] {
        let expected = if kind == "bls" { &bls[id] } else { &ecdsa[id] };
        let import = |out: &str, extra: &[&str]| {
            let mut args = vec![
                "--json",
                "keys",
                "import",
                "--kind",
                kind,
                "--keystore",
                source,
                "--keystore-password-file",
                "old",
                "--out",
                out,
            ];
            args.extend_from_slice(extra);
            keeperctl(&args, d)
        };
        let re_encrypted = format!("{kind}-new.json");
        let imported = json(&import(&re_encrypted, &["--kdf", "pbkdf2", "--password-file", "new"]));
        assert_eq!(&imported[id], expected, "{kind}");
        let shown = json(&keeperctl(&["--json", "keys", "show", &re_encrypted, "--password-file", "new"], d));
        assert_eq!(&shown[id], expected, "{kind}: the new keystore opens with the new password");
        let stale = keeperctl(&["keys", "export", &re_encrypted, "--out", "x.hex", "--password-file", "old"], d);
        assert_eq!(stale.status.code(), Some(1), "{kind}: the old password no longer opens it");

        let copied = format!("{kind}-copy.json");
        let imported = json(&import(&copied, &["--copy"]));
        assert_eq!(&imported[id], expected);
        assert_eq!(std::fs::read(d.join(&copied)).unwrap(), std::fs::read(d.join(source)).unwrap());
        assert_eq!(std::fs::metadata(d.join(&copied)).unwrap().permissions().mode() & 0o777, 0o600);

        let wrong_out = format!("{kind}-wrong.json");
        let wrong = keeperctl(
            &[
                "keys",
                "import",
                "--kind",
                kind,
                "--keystore",
                source,
                "--keystore-password-file",
                "wrong",
                "--out",
                &wrong_out,
                "--password-file",
                "new",
            ],
            d,
        );
        assert_eq!(wrong.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&wrong.stderr);
        assert!(stderr.contains(source), "{kind}: {stderr}");
        assert!(!d.join(&wrong_out).exists());
    }

    let both = keeperctl(
        &["keys", "import", "--kind", "bls", "--keystore", "validator.json", "--secret-file", "x", "--out", "y"],
        d,
    );
    assert_eq!(both.status.code(), Some(2), "--keystore and --secret-file exclude each other");
}
