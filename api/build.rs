//! Rebuilds `ledgerd` when the console's bundle (`ui/dist`, committed) changes: it is
//! embedded by `include_dir!`, which cargo does not watch by itself.

fn main() {
    println!("cargo:rerun-if-changed=../ui/dist");
    if !std::path::Path::new("../ui/dist/index.html").exists() {
        println!(
            "cargo:warning=ui/dist/index.html is missing: ledgerd is built without the console \
             (run `npm --prefix ui ci && npm --prefix ui run build`)"
        );
    }
}
