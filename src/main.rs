//! The `hook` binary: parse the command line, run it, exit with its code.
//! Everything else lives in the library so tests and the binary share it.

fn main() -> std::process::ExitCode {
    mediamtx_hook::cli::main()
}
