//! CPU accounting: this process (getrusage), a server process tree (/proc/<pid>/stat), and the
//! whole machine (/proc/stat), so a run can say who used the cores.

use std::collections::HashMap;
use std::time::Duration;

fn tv(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// User + system CPU time of this process so far.
pub fn self_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return Duration::ZERO;
    }
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// (ppid, utime + stime in ticks) from /proc/<pid>/stat.
fn stat_of(pid: u32) -> Option<(u32, u64)> {
    let data = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 (comm) is parenthesised and may contain spaces; fixed fields follow the last ')'.
    let rest: Vec<&str> = data[data.rfind(')')? + 2..].split_whitespace().collect();
    // rest[0] = state (field 3), so field n is rest[n - 3].
    let ppid = rest.get(1)?.parse().ok()?;
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

/// CPU ticks used by each process of the tree rooted at `root` (pid → ticks).
pub fn tree_ticks(root: u32) -> HashMap<u32, u64> {
    let mut all: HashMap<u32, (u32, u64)> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                if let Some(s) = stat_of(pid) {
                    all.insert(pid, s);
                }
            }
        }
    }
    let mut out = HashMap::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        if let Some(&(_, ticks)) = all.get(&p) {
            out.insert(p, ticks);
        }
        for (&child, &(ppid, _)) in &all {
            if ppid == p && !out.contains_key(&child) {
                stack.push(child);
            }
        }
    }
    out
}

/// CPU time the tree used between two snapshots (processes present in the later one).
pub fn tree_delta(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> Duration {
    let ticks: u64 = after.iter().map(|(pid, t)| t.saturating_sub(*before.get(pid).unwrap_or(&0))).sum();
    Duration::from_secs_f64(ticks as f64 / ticks_per_sec())
}

/// (busy, total) jiffies of the whole machine from the first line of /proc/stat.
pub fn machine() -> Option<(u64, u64)> {
    let data = std::fs::read_to_string("/proc/stat").ok()?;
    let line = data.lines().next()?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest fields are already in user/nice)
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// Busy CPU-seconds of the whole machine between two /proc/stat snapshots.
pub fn machine_busy(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> Option<Duration> {
    let (b0, _) = before?;
    let (b1, _) = after?;
    Some(Duration::from_secs_f64(b1.saturating_sub(b0) as f64 / ticks_per_sec()))
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
