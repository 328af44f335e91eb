//! A server's CPU time over the load, from `/proc/PID/stat` (Linux), for the server's CPU per
//! delivery in the report.

use std::time::Duration;

/// The unit of the times in `/proc/PID/stat`: `USER_HZ`, which the kernel fixes at 100 on every
/// Linux architecture Rust supports (it is ABI, whatever the kernel's own tick rate).
const TICKS_PER_S: u64 = 100;

/// Whose CPU time is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Process {
    /// The server's process, named by `--server-pid`.
    Pid(u32),
    /// The bench's own process, which runs the in-process server: the clients' CPU is included.
    Own,
}

impl Process {
    fn stat_path(self) -> String {
        match self {
            Process::Pid(pid) => format!("/proc/{pid}/stat"),
            Process::Own => "/proc/self/stat".to_string(),
        }
    }

    /// The process's user and system CPU time so far; `None` where it cannot be read (not Linux,
    /// no such process).
    pub(crate) fn times(self) -> Option<CpuTimes> {
        CpuTimes::parse(&std::fs::read_to_string(self.stat_path()).ok()?)
    }

    /// The CPU time of all of `processes` (the nodes of a cluster), summed; `None` if there are
    /// none or one cannot be read, since a sum missing a node would understate the cost.
    pub(crate) fn total_times(processes: &[Process]) -> Option<CpuTimes> {
        let mut total: Option<CpuTimes> = None;
        for process in processes {
            let times = process.times()?;
            total = Some(match total {
                Some(sum) => CpuTimes {
                    user: sum.user + times.user,
                    system: sum.system + times.system,
                },
                None => times,
            });
        }
        total
    }
}

/// A process's CPU time: user and system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CpuTimes {
    pub(crate) user: Duration,
    pub(crate) system: Duration,
}

impl CpuTimes {
    /// `utime` and `stime`, the 14th and 15th fields of a `/proc/PID/stat` line. The second field
    /// (the command, in parentheses) may hold spaces and parentheses itself, so the fields are
    /// counted from after its last `)`.
    fn parse(stat: &str) -> Option<CpuTimes> {
        let after_command = &stat[stat.rfind(')')? + 1..];
        // After the command: state (3), ppid (4), ..., utime (14), stime (15).
        let mut fields = after_command.split_ascii_whitespace().skip(11);
        let mut ticks = || -> Option<Duration> {
            let ticks: u64 = fields.next()?.parse().ok()?;
            Some(Duration::from_millis(
                ticks.checked_mul(1000)? / TICKS_PER_S,
            ))
        };
        Some(CpuTimes {
            user: ticks()?,
            system: ticks()?,
        })
    }

    /// The time spent from `earlier` to `self`.
    pub(crate) fn since(self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_read_after_a_command_with_spaces_and_parentheses() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194304 1000 0 0 0 \
                    250 75 0 0 20 0 9 0 123 456789 1234 18446744073709551615";
        assert_eq!(
            CpuTimes::parse(stat),
            Some(CpuTimes {
                user: Duration::from_millis(2500),
                system: Duration::from_millis(750),
            })
        );
    }

    #[test]
    fn a_truncated_or_garbled_stat_line_gives_none() {
        assert_eq!(CpuTimes::parse("4242 (x) S 1 2 3"), None);
        assert_eq!(CpuTimes::parse("no parenthesis 1 2 3"), None);
        assert_eq!(
            CpuTimes::parse("1 (x) S 1 1 1 0 -1 0 0 0 0 0 lots 3 0"),
            None
        );
    }

    #[test]
    fn the_own_process_times_are_readable_and_never_go_back() {
        let before = Process::Own.times().expect("/proc/self/stat is readable");
        let after = Process::Own.times().expect("/proc/self/stat is readable");
        assert!(after.user >= before.user && after.system >= before.system);
    }
}
