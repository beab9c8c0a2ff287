/// mimalloc instead of glibc's malloc: the message pipeline and the
/// database layer allocate and free small buffers at a high rate, where
/// glibc's malloc took a third of the CPU in `flowhq bench` profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    flowhq::cli::main()
}
