//! Compiles `user.proto` with a vendored `protoc`, so a fresh machine needs no system package.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC from the environment.
    unsafe { std::env::set_var("PROTOC", protoc) };
    tonic_prost_build::configure().compile_protos(&["user.proto"], &["."])?;
    println!("cargo:rerun-if-changed=user.proto");
    Ok(())
}
