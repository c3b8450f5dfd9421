//! The `auth-service` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    auth_service::cli::main()
}
