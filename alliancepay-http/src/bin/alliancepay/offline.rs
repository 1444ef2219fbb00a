//! Commands that need no network: keys, thumbprints, encrypt and decrypt. They replace the
//! bank's test-only cipher endpoints, which must never see a production key.

use std::io::Read;
use std::path::Path;

use alliancepay_http::__private::crypto;
use alliancepay_http::store;
use alliancepay_jose::{PrivateJwk, PublicJwk};
use serde_json::json;
use zeroize::Zeroizing;

use crate::output::Output;

fn stdin_bytes() -> Result<Zeroizing<Vec<u8>>, String> {
    let mut input = Zeroizing::new(Vec::new());
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("reading stdin: {e}"))?;
    Ok(input)
}

pub fn keygen(out: &Output, dir: &Path, force: bool) -> Result<(), String> {
    let private_path = dir.join("merchant.jwk");
    let public_path = dir.join("merchant.pub.jwk");
    let existing = [&private_path, &public_path]
        .into_iter()
        .find(|p| p.exists());
    if let (false, Some(existing)) = (force, existing) {
        return Err(format!(
            "{} exists; pass --force to replace the key pair",
            existing.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let key = PrivateJwk::generate(&mut rand_core::UnwrapErr(getrandom::SysRng))
        .map_err(|e| e.to_string())?;
    let private = crypto::private_jwk_to_string(&key);
    store::write_private_file(&private_path, format!("{}\n", private.as_str()).as_bytes())
        .map_err(|e| e.to_string())?;
    let public = crypto::public_jwk_to_string(key.public_jwk());
    std::fs::write(&public_path, format!("{public}\n"))
        .map_err(|e| format!("{}: {e}", public_path.display()))?;
    let thumbprint = key.public_jwk().thumbprint().to_base64url();
    out.result(
        &format!(
            "private key: {} (mode 0600; never share it)\npublic key:  {} (register it with the bank)\nthumbprint:  {thumbprint}",
            private_path.display(),
            public_path.display()
        ),
        &json!({"privateKey": private_path, "publicKey": public_path, "thumbprint": thumbprint.as_str()}),
    );
    Ok(())
}

pub fn thumbprint(out: &Output, file: &Path) -> Result<(), String> {
    let key = store::load_public_key(file).map_err(|e| e.to_string())?;
    let t = key.thumbprint().to_base64url();
    out.result(&t, &json!({"thumbprint": t.as_str()}));
    Ok(())
}

pub fn encrypt(out: &Output, key: &Path) -> Result<(), String> {
    let recipient: PublicJwk = store::load_public_key(key).map_err(|e| e.to_string())?;
    let plaintext = stdin_bytes()?;
    let token = crypto::encrypt_to_string(&recipient, &plaintext).map_err(|e| e.to_string())?;
    out.line(&token);
    Ok(())
}

pub fn decrypt(out: &Output, key: &Path) -> Result<(), String> {
    let key = store::load_private_key(key).map_err(|e| e.to_string())?;
    let input = stdin_bytes()?;
    let token = std::str::from_utf8(&input)
        .map_err(|_| "stdin is not a compact JWE (not UTF-8)".to_owned())?;
    let plaintext =
        crypto::decrypt_to_vec(&key, token).map_err(|e| format!("cannot decrypt: {e}"))?;
    out.bytes(&plaintext);
    Ok(())
}
