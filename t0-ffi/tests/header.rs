//! `include/t0.h` must equal what cbindgen generates from the crate now: a stale header
//! fails CI. `T0_BLESS=1 cargo test -p t0-ffi --test header` rewrites it.

#[test]
fn header_is_current() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")).unwrap();
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen failed on t0-ffi");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let path = format!("{dir}/include/t0.h");
    if std::env::var_os("T0_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap();
    assert!(
        committed == fresh,
        "{path} is stale: regenerate it with `T0_BLESS=1 cargo test -p t0-ffi --test header` and commit it"
    );
}
