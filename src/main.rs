fn main() -> std::process::ExitCode {
    hookplan::cli::main()
}
