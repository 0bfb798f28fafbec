fn main() {
    napi_build::setup();
    // macOS: the libc crate names libiconv for its iconv bindings, which nothing here calls;
    // without this every macOS build would make dyld load /usr/lib/libiconv.2.dylib as well.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-dead_strip_dylibs");
    }
}
