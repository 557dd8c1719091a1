//! CPU time and memory of process trees, sampled from `/proc` every 100 ms.
//!
//! A group is a root process and all its descendants (PostgreSQL's postmaster and
//! its backends, which come and go). CPU: for each process (pid and start time, so a
//! reused pid is a new process), the largest `utime + stime` seen minus what it had
//! when sampling began (zero for processes started since); the group's figure is
//! their sum. A process that exits loses at most its last 100 ms. Memory: in each
//! sample, the sum over the group of `VmRSS`; every 3 s also of `Pss`
//! (`smaps_rollup`: shared pages split between the processes that map them, so
//! PostgreSQL's shared buffers count once; costly to read, hence less often). The
//! peak is the largest sum. For a one-process group the peak RSS is also its own
//! `VmHWM`, whichever is larger.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

/// `/proc` reports CPU times in USER_HZ, which Linux fixes at 100 per second.
const TICKS_PER_SEC: f64 = 100.0;
const INTERVAL: Duration = Duration::from_millis(100);
/// PSS is read every this many samples (3 s): `smaps_rollup` walks the page tables
/// of every backend (shared buffers included), too costly to read ten times a second.
const PSS_EVERY: u32 = 30;

/// What one group used while it was sampled.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Usage {
    /// The group's name (`ledgerd`, `postgres`, …).
    pub name: String,
    /// CPU seconds (user + system) spent while sampled.
    pub cpu_secs: f64,
    /// The largest summed resident set size, in MiB.
    pub peak_rss_mib: f64,
    /// The largest summed proportional set size, in MiB (shared pages counted once).
    pub peak_pss_mib: f64,
    /// The most processes the group had at once.
    pub max_processes: usize,
    /// CPU seconds the sampler itself spent reading `/proc` (on the first group).
    pub sampler_secs: f64,
    /// How long the sampling lasted, in seconds.
    pub sampled_secs: f64,
}

#[derive(Debug, Default)]
struct GroupState {
    root: i32,
    /// (pid, start time) -> (ticks when first seen, largest ticks seen).
    cpu: HashMap<(i32, u64), (u64, u64)>,
    /// Counts CPU from zero for every process, not from the first sample (for a
    /// process started just before sampling began).
    from_zero: bool,
    first_sample: bool,
    peak_rss_kib: u64,
    peak_pss_kib: u64,
    hwm_kib: u64,
    max_processes: usize,
}

/// What the sampling thread hands back: each group's state, and its own CPU time.
type Sampled = (Vec<(String, GroupState)>, Duration, Duration);

/// A sampler running on a thread of its own until [`Sampler::stop`] (or drop).
#[derive(Debug)]
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Sampled>>,
}

/// The name of the pseudo-group whose CPU is every process's on the machine
/// (`/proc/stat`), so that work by other programs during a run shows.
pub const MACHINE: &str = "machine";

/// Busy ticks of all CPUs since boot: user, nice, system, irq, softirq, steal.
fn machine_busy_ticks() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else {
        return 0;
    };
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum()
}

/// A group to sample: its name, its root pid, and whether its CPU counts from zero
/// (a process just started) rather than from the first sample.
#[derive(Debug, Clone)]
pub struct Group {
    /// Its name in the report.
    pub name: String,
    /// The root of the process tree.
    pub root: i32,
    /// Whether CPU used before the first sample counts too.
    pub from_zero: bool,
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Sampler {
    /// Starts sampling the trees of `groups`.
    pub fn start(groups: Vec<Group>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut states: Vec<(String, GroupState)> = groups
                .into_iter()
                .map(|group| {
                    let state = GroupState {
                        root: group.root,
                        from_zero: group.from_zero,
                        first_sample: true,
                        ..GroupState::default()
                    };
                    (group.name, state)
                })
                .collect();
            let machine_before = machine_busy_ticks();
            let began = std::time::Instant::now();
            for tick in 0u32.. {
                let stopping = flag.load(Ordering::Relaxed);
                sample(&mut states, stopping || tick % PSS_EVERY == 0);
                if stopping {
                    break;
                }
                std::thread::sleep(INTERVAL);
            }
            let machine = GroupState {
                cpu: HashMap::from([((0, 0), (machine_before, machine_busy_ticks()))]),
                ..GroupState::default()
            };
            states.push((MACHINE.to_owned(), machine));
            // This thread's own CPU time: what sampling cost.
            let own = read_stat_file("/proc/thread-self/stat").map_or(0, |s| s.ticks);
            let own = Duration::from_secs_f64(own as f64 / TICKS_PER_SEC);
            (states, own, began.elapsed())
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Takes one last sample and returns each group's usage.
    pub fn stop(mut self) -> Vec<Usage> {
        self.stop.store(true, Ordering::Relaxed);
        let (states, busy, sampled) = self
            .thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        states
            .into_iter()
            .enumerate()
            .map(|(i, (name, s))| {
                let ticks: u64 = s.cpu.values().map(|(first, max)| max - first).sum();
                let peak_rss = s
                    .peak_rss_kib
                    .max(if s.max_processes == 1 { s.hwm_kib } else { 0 });
                Usage {
                    name,
                    cpu_secs: ticks as f64 / TICKS_PER_SEC,
                    peak_rss_mib: peak_rss as f64 / 1024.0,
                    peak_pss_mib: s.peak_pss_kib as f64 / 1024.0,
                    max_processes: s.max_processes,
                    sampler_secs: if i == 0 { busy.as_secs_f64() } else { 0.0 },
                    sampled_secs: sampled.as_secs_f64(),
                }
            })
            .collect()
    }
}

/// One process as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, Copy)]
struct Stat {
    ppid: i32,
    ticks: u64,
    start: u64,
}

fn read_stat(pid: i32) -> Option<Stat> {
    read_stat_file(&format!("/proc/{pid}/stat"))
}

fn read_stat_file(path: &str) -> Option<Stat> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state) of proc(5); field n is fields[n - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        ticks: field(14)? + field(15)?,
        start: field(22)?,
    })
}

/// `(VmRSS, VmHWM)` in KiB.
fn read_status(pid: i32) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (0, 0);
    };
    (kib(&text, "VmRSS:"), kib(&text, "VmHWM:"))
}

fn read_pss(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .map(|text| kib(&text, "Pss:"))
        .unwrap_or(0)
}

fn kib(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn all_processes() -> HashMap<i32, Stat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, read_stat(pid)?)))
        .collect()
}

/// `root` and every process below it.
fn tree(root: i32, processes: &HashMap<i32, Stat>) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (&pid, stat) in processes {
        children.entry(stat.ppid).or_default().push(pid);
    }
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        if processes.contains_key(&pid) {
            found.push(pid);
            stack.extend(children.get(&pid).into_iter().flatten());
        }
    }
    found
}

fn sample(states: &mut [(String, GroupState)], with_pss: bool) {
    let processes = all_processes();
    for (_, state) in states.iter_mut() {
        let pids = tree(state.root, &processes);
        let (mut rss, mut pss) = (0, 0);
        for &pid in &pids {
            let stat = processes[&pid];
            let baseline = if state.first_sample && !state.from_zero {
                stat.ticks
            } else {
                0
            };
            let entry = state
                .cpu
                .entry((pid, stat.start))
                .or_insert((baseline, baseline));
            entry.1 = entry.1.max(stat.ticks);
            let (vm_rss, vm_hwm) = read_status(pid);
            rss += vm_rss;
            if with_pss {
                pss += read_pss(pid);
            }
            if pid == state.root {
                state.hwm_kib = state.hwm_kib.max(vm_hwm);
            }
        }
        state.first_sample = false;
        state.peak_rss_kib = state.peak_rss_kib.max(rss);
        state.peak_pss_kib = state.peak_pss_kib.max(pss);
        state.max_processes = state.max_processes.max(pids.len());
    }
}

/// This process's own peak resident set size (`VmHWM`), in MiB.
pub fn own_peak_rss_mib() -> f64 {
    read_status(std::process::id() as i32).1 as f64 / 1024.0
}

/// CPU seconds this process has used so far (user + system).
pub fn own_cpu_secs() -> f64 {
    read_stat(std::process::id() as i32)
        .map(|s| s.ticks as f64 / TICKS_PER_SEC)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_found_with_its_tree() {
        let me = std::process::id() as i32;
        let processes = all_processes();
        assert!(processes.contains_key(&me));
        assert!(tree(me, &processes).contains(&me));
        assert!(tree(-5, &processes).is_empty());
    }

    #[test]
    fn sampling_measures_cpu_and_memory() {
        let sampler = Sampler::start(vec![Group {
            name: "me".into(),
            root: std::process::id() as i32,
            from_zero: false,
        }]);
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(400) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let usage = sampler.stop();
        assert!(usage[0].cpu_secs > 0.1, "{usage:?}");
        assert!(usage[0].peak_rss_mib > 1.0, "{usage:?}");
    }
}
