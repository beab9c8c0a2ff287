fn main() -> std::process::ExitCode {
    flowhq::cli::main()
}
