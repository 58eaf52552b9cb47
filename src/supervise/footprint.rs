//! The supervisor's resident memory after startup.
//!
//! `hook run` stays alive as long as its stream, so its resident set is a
//! standing cost. Most of it is not its own: VmRSS counts every page of
//! program text the process has touched, and startup touches a lot (clap
//! builds the definition of every subcommand, the policy and logging are set
//! up), each fault mapping up to 64 KiB around it from the page cache. Those
//! pages are clean copies of the binary and of libc, shared with the page
//! cache, yet they stay in the count for the life of the process; the memory
//! the supervisor really owns (heap, stack, relocated data) is a few hundred
//! KiB.
//!
//! [`drop_startup_text`] unmaps the clean file pages of the program and its
//! libraries once startup is over (`MADV_DONTNEED` on private file mappings
//! that are not writable and hold no private copy of any page: text, and
//! read-only data). Nothing is lost: such pages are exactly the file's
//! contents, so the next use of one faults it back in from the page cache,
//! and from then on the resident set holds what the poll loop actually
//! runs. A mapping with a private copy (relocated data made read-only after
//! startup, RELRO) is left alone: its copy is not in the file.

/// Drops this process's resident clean file pages (see the module doc) and
/// returns how many bytes of mappings were advised. Failures are ignored:
/// this only lowers a number.
pub fn drop_startup_text() -> usize {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut advised = 0;
    for (start, end) in clean_file_mappings(&smaps) {
        // SAFETY: a private, read-only file mapping without private pages:
        // MADV_DONTNEED only unmaps its pages, which fault back in from the
        // file on their next use.
        let rc =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if rc == 0 {
            advised += end - start;
        }
    }
    advised
}

/// The address ranges of `/proc/PID/smaps` entries that are private,
/// read-only (`r--p`, `r-xp`) mappings of a file with no anonymous (copied
/// on write) pages.
pub fn clean_file_mappings(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-').and_then(|(s, e)| {
            Some((
                usize::from_str_radix(s, 16).ok()?,
                usize::from_str_radix(e, 16).ok()?,
            ))
        }) {
            // A mapping's header: range, perms, offset, device, inode, path.
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            current =
                (matches!(perms, "r--p" | "r-xp") && path.starts_with('/')).then_some((start, end));
        } else if first == "Anonymous:" {
            let kib = fields.next().and_then(|n| n.parse::<u64>().ok());
            if let (Some(range), Some(0)) = (current.take(), kib) {
                out.push(range);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_file_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("RssFile:"))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn only_clean_read_only_file_mappings_qualify() {
        let smaps = "\
1000-3000 r-xp 00000000 08:01 12 /usr/bin/hook
Rss: 8 kB
Anonymous: 0 kB
3000-4000 r--p 00002000 08:01 12 /usr/bin/hook
Anonymous: 4 kB
4000-5000 rw-p 00003000 08:01 12 /usr/bin/hook
Anonymous: 0 kB
5000-6000 r--p 00000000 00:00 0
Anonymous: 0 kB
6000-7000 r-xp 00000000 00:00 0 [vdso]
Anonymous: 0 kB
7000-9000 r--p 00000000 08:01 13 /usr/lib/libc.so.6
Anonymous: 0 kB
";
        assert_eq!(
            clean_file_mappings(smaps),
            vec![(0x1000, 0x3000), (0x7000, 0x9000)]
        );
    }

    #[test]
    fn text_pages_are_dropped_and_the_code_still_runs() {
        let before = rss_file_kib();
        assert!(drop_startup_text() > 0);
        let after = rss_file_kib();
        assert!(after < before, "RssFile {before} KiB then {after} KiB");
        // Code everywhere still runs (it faults back in).
        let v: Vec<String> = (0..1000).map(|i| format!("{i:x}")).collect();
        assert_eq!(v[255], "ff");
    }
}
