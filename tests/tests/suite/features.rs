//! Cargo features across the workspace: alliancepay-jose's `hazmat-scalar-mul` (our own scalar
//! multiplication) is opt-in for applications, so no crate of ours may turn it on, and
//! alliancepay-http above all (features only add up: once on, no user could turn it off).

use std::process::Command;

/// `cargo tree -e features` of `package` with `args`, run on this workspace.
fn feature_tree(package: &str, args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let output = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-e",
            "features",
            "--manifest-path",
            manifest,
            "-p",
        ])
        .arg(package)
        .args(args)
        .output()
        .expect("running cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 tree")
}

#[test]
fn alliancepay_http_never_enables_hazmat_scalar_mul() {
    for args in [&[][..], &["--all-features"][..]] {
        let tree = feature_tree("alliancepay-http", args);
        assert!(
            tree.contains("alliancepay-jose feature \"precomputed-tables\""),
            "the tree does not show alliancepay-jose's features, so the check below proves \
             nothing:\n{tree}"
        );
        assert!(
            !tree.contains("hazmat"),
            "alliancepay-http {args:?} enables a hazmat feature:\n{tree}"
        );
    }
}

#[test]
fn alliancepay_jose_default_features_use_upstream_arithmetic() {
    let tree = feature_tree("alliancepay-jose", &[]);
    assert!(
        tree.contains("alliancepay-jose feature \"default\""),
        "{tree}"
    );
    assert!(
        !tree.contains("hazmat"),
        "default features include hazmat:\n{tree}"
    );
}
