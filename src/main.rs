fn main() -> std::process::ExitCode {
    limit_heap_growth();
    saghat::cli::main()
}

/// Every password hash and check makes Argon2 allocate 19 MiB (on a blocking thread). With
/// glibc's default *dynamic* mmap threshold, the first such block freed raises the threshold
/// above 19 MiB, so the later ones come from the heap and are kept after they are freed: a
/// server that had hashed 100 passwords sat at 1.8 GB resident, idle. A fixed threshold keeps
/// blocks of 4 MiB and more in their own mappings, returned to the system when freed (the
/// server then stays near 20 MiB; logins cost ~2 ms more for the fresh pages).
fn limit_heap_growth() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called first thing, before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    }
}
