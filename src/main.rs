fn main() -> std::process::ExitCode {
    saghat::cli::main()
}
