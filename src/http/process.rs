//! The process's own figures for `/metrics`, under the names Prometheus'
//! process collector gives them (`process_resident_memory_bytes`,
//! `process_open_fds`, `process_cpu_seconds_total`,
//! `process_start_time_seconds`), read from `/proc` at each scrape. Where
//! `/proc` can't be read (not Linux) a figure is left out, not made up.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fmt::Write;

/// `/proc`'s clock ticks a second (USER_HZ). The kernel fixes it at 100 for
/// user space on every architecture we build for; asking `sysconf` would
/// need `unsafe` (the crate forbids it) for the same answer.
const TICKS_PER_SECOND: f64 = 100.0;

/// Append the process metrics that could be read.
pub fn write(out: &mut String) {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    let stat = stat.as_deref().and_then(StatFields::parse);
    if let Some(rss) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| resident_bytes(&s))
    {
        gauge(
            out,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            &rss.to_string(),
        );
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        gauge(
            out,
            "process_open_fds",
            "Number of open file descriptors.",
            &dir.count().to_string(),
        );
    }
    if let Some(stat) = &stat {
        let cpu = (stat.utime + stat.stime) as f64 / TICKS_PER_SECOND;
        let _ = write!(
            out,
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
             # TYPE process_cpu_seconds_total counter\n\
             process_cpu_seconds_total {cpu:.2}\n"
        );
    }
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| boot_time(&s));
    if let (Some(stat), Some(boot)) = (&stat, boot) {
        let start = boot as f64 + stat.starttime as f64 / TICKS_PER_SECOND;
        gauge(
            out,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            &format!("{start:.2}"),
        );
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: &str) {
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
    );
}

/// The fields of `/proc/self/stat` we use, in clock ticks.
#[derive(Debug, PartialEq)]
struct StatFields {
    utime: u64,
    stime: u64,
    /// Since boot.
    starttime: u64,
}

impl StatFields {
    /// `pid (comm) state ...`: the command name may hold spaces and
    /// parentheses, so fields are counted from the last `)`.
    fn parse(stat: &str) -> Option<StatFields> {
        let (_, rest) = stat.rsplit_once(')')?;
        // proc(5) numbers fields from 1 with `state` third: after the `)`
        // utime (14th) is the 12th, stime the 13th, starttime the 20th.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some(StatFields {
            utime: field(14)?,
            stime: field(15)?,
            starttime: field(22)?,
        })
    }
}

/// `VmRSS:  1234 kB` in `/proc/self/status`, in bytes.
fn resident_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `btime` in `/proc/stat`: the boot time, in seconds since the epoch.
fn boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_from_the_last_parenthesis() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 75 0 0 20 0 9 0 123456 123456789 2000 18446744073709551615";
        assert_eq!(
            StatFields::parse(stat),
            Some(StatFields {
                utime: 250,
                stime: 75,
                starttime: 123456
            })
        );
        assert_eq!(StatFields::parse("4242 (x) S 1"), None);
    }

    #[test]
    fn status_and_proc_stat_lines_are_read() {
        assert_eq!(
            resident_bytes("Name:\tbantin\nVmRSS:\t   5120 kB\n"),
            Some(5120 * 1024)
        );
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1765000000\n"),
            Some(1765000000)
        );
    }

    #[test]
    fn this_process_reports_every_figure_on_linux() {
        let mut out = String::new();
        write(&mut out);
        if cfg!(target_os = "linux") {
            for name in [
                "process_resident_memory_bytes ",
                "process_open_fds ",
                "process_cpu_seconds_total ",
                "process_start_time_seconds ",
            ] {
                assert!(out.contains(name), "{name} not in\n{out}");
            }
        }
    }
}
