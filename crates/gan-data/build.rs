include!("../../build-support/libtorch_rpath.rs");
