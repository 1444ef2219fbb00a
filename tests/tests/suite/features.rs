//! Cargo features across the workspace: alliancepay-jose's `hazmat-scalar-mul` (our own scalar
//! multiplication) is opt-in for applications, so no crate of ours may turn it on, and
//! alliancepay-http above all (features only add up: once on, no user could turn it off).

use std::process::Command;

/// The features alliancepay-jose is built with when `package` is built with `args`, as
/// `cargo tree` resolves them: one list per line of the tree that shows alliancepay-jose.
fn jose_features(package: &str, args: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let output = Command::new(cargo)
        .args(["tree", "--offline", "-e", "normal", "-f", "{p} [{f}]"])
        .args(["--manifest-path", manifest, "-p", package])
        .args(args)
        .output()
        .expect("running cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).expect("UTF-8 tree");
    let lists: Vec<String> = tree
        .lines()
        .filter(|line| line.contains("alliancepay-jose v"))
        .filter_map(|line| Some(line.rsplit_once('[')?.1.split(']').next()?.to_owned()))
        .collect();
    assert!(
        !lists.is_empty(),
        "alliancepay-jose is not in the tree:\n{tree}"
    );
    lists
}

fn has(features: &str, feature: &str) -> bool {
    features.split(',').any(|f| f == feature)
}

#[test]
fn alliancepay_http_never_enables_hazmat_scalar_mul() {
    for args in [&[][..], &["--all-features"][..]] {
        for features in jose_features("alliancepay-http", args) {
            assert!(
                has(&features, "precomputed-tables"),
                "alliancepay-http {args:?} builds the core without its basepoint table: [{features}]"
            );
            assert!(
                !has(&features, "hazmat-scalar-mul"),
                "alliancepay-http {args:?} enables hazmat-scalar-mul: [{features}]"
            );
        }
    }
}

#[test]
fn alliancepay_jose_default_features_use_upstream_arithmetic() {
    let lists = jose_features("alliancepay-jose", &[]);
    assert!(lists.iter().all(|f| has(f, "default")), "{lists:?}");
    assert!(
        !lists.iter().any(|f| has(f, "hazmat-scalar-mul")),
        "{lists:?}"
    );
}

/// The check can fail: the hazmat build of this very suite shows the feature.
#[test]
fn the_check_sees_hazmat_when_it_is_on() {
    let lists = jose_features("alliancepay-tests", &["--features", "hazmat", "-e", "dev"]);
    assert!(
        lists.iter().any(|f| has(f, "hazmat-scalar-mul")),
        "{lists:?}"
    );
}
