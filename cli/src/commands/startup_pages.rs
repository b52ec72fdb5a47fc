//! Letting go of start-up's code once the server is ready.
//!
//! wfc is one binary holding the compiler, the command line and every catalog workflow.
//! Starting `serve` runs code that never runs again (arguments and settings, the catalog and
//! its checks, the tools' JSON Schemas, the store's schema), and the kernel maps the executable
//! in runs of pages around each page it touches (fault-around). Those pages stay resident —
//! most of an idle server's resident size — though nothing reads them again. Once the server
//! is ready, it asks the kernel to drop them from its resident set
//! (`madvise(MADV_DONTNEED)`) on the executable's mappings that hold no private change: its
//! code and read-only data, clean pages of the file, still in the page cache. The kernel maps
//! back in only what requests run. A mapping the process has written (relocated data, `.data`,
//! `.bss`) is never touched: dropping it would throw the writes away.

/// Drops the clean pages of the running executable from the resident set; returns how many
/// bytes of mappings were released (0 where this is not Linux or `/proc` cannot be read).
#[cfg(target_os = "linux")]
pub(crate) fn release() -> usize {
    let (Ok(executable), Ok(smaps)) = (std::fs::read_link("/proc/self/exe"), std::fs::read_to_string("/proc/self/smaps")) else {
        return 0;
    };
    let executable = executable.to_string_lossy().into_owned();
    let mut released = 0;
    for mapping in clean_mappings(&smaps, &executable) {
        // SAFETY: the range is a whole mapping of this process that is not writable and holds
        // no anonymous (privately changed) page, so dropping its pages loses nothing: the next
        // access maps the same bytes of the file back in.
        if unsafe { libc::madvise(mapping.start as *mut libc::c_void, mapping.len(), libc::MADV_DONTNEED) } == 0 {
            released += mapping.len();
        }
    }
    released
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn release() -> usize {
    0
}

/// The mappings of `executable` in `smaps` (`/proc/self/smaps`) that are not writable and
/// have no anonymous pages.
fn clean_mappings(smaps: &str, executable: &str) -> Vec<std::ops::Range<usize>> {
    let mut clean = Vec::new();
    // The mapping being read: its range, and whether it is a read-only mapping of the file.
    let mut current: Option<(std::ops::Range<usize>, bool)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16))
        {
            let permissions = fields.next().unwrap_or("");
            // The path is the rest of the line after the offset, device and inode (it may
            // hold spaces).
            let inode = fields.nth(2).unwrap_or("");
            let path = line.split_once(&format!(" {inode} ")).map_or("", |(_, rest)| rest.trim());
            current = Some((start..end, path == executable && !permissions.contains('w')));
        } else if first == "Anonymous:"
            && let Some((range, true)) = current.take()
            && fields.next() == Some("0")
        {
            clean.push(range);
        }
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unwritten_mappings_of_the_executable_are_taken() {
        let smaps = "\
1000-2000 r--p 00000000 08:01 7 /bin/wfc
Size:                  4 kB
Anonymous:             0 kB
2000-4000 r-xp 00001000 08:01 7 /bin/wfc
Anonymous:             0 kB
4000-5000 r--p 00003000 08:01 7 /bin/wfc
Anonymous:             4 kB
5000-6000 rw-p 00004000 08:01 7 /bin/wfc
Anonymous:             0 kB
6000-7000 r-xp 00000000 08:01 9 /lib/libc.so.6
Anonymous:             0 kB
8000-9000 r-xp 00000000 08:01 11                         /opt/my tools/wfc
Anonymous:             0 kB
7000-8000 rw-p 00000000 00:00 0
Anonymous:             0 kB
";
        assert_eq!(clean_mappings(smaps, "/bin/wfc"), [0x1000..0x2000, 0x2000..0x4000]);
        assert_eq!(clean_mappings(smaps, "/opt/my tools/wfc"), [0x8000..0x9000]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_runs_on_after_its_code_is_released() {
        assert!(release() > 0, "a test binary has clean mappings of its executable");
        // Code runs again from the page cache.
        assert_eq!(format!("{}", 6 * 7), "42");
    }
}
