mod cli;

fn main() -> std::process::ExitCode {
    limit_heap_growth();
    sqlite_without_memory_statistics();
    cli::main()
}

/// SQLite's memory statistics (on by default) take one global mutex around every allocation
/// and free it makes; sqlx copies every value of every row it reads, so reading many rows was
/// spent largely in that mutex (perf: ~18% of the draw over 100,000 members, contended between
/// sqlx's SQLite worker threads). Saghat never reads those statistics. This must run before
/// SQLite initialises (its first connection); later it is refused and changes nothing.
fn sqlite_without_memory_statistics() {
    // SAFETY: sqlite3_config with SQLITE_CONFIG_MEMSTATUS takes one int; it is called before
    // any other thread exists or any SQLite connection is opened.
    unsafe {
        libsqlite3_sys::sqlite3_config(
            libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
            0 as std::os::raw::c_int,
        );
    }
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
