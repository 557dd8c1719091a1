//! The child's side of the sandbox: read a request, run it, write the response,
//! until standard input ends.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use domain::mapping::MappingProgram;

use super::{Request, Response, DRY_RUN_MAPPING_ID};

/// Stack of the thread that runs the programs: deep enough for any sane program's
/// recursion; an insane one overflows it and ends this process only.
pub const STACK_BYTES: usize = 64 * 1024 * 1024;

/// The limits a child sets on itself before it reads anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Address space of the whole child (`RLIMIT_AS`), in MiB; an allocation past it
    /// fails, which aborts the child.
    pub memory_mib: u64,
}

/// The whole child program: sets `limits` (no core files, killed with its parent),
/// then serves standard input and output on a thread with a [`STACK_BYTES`] stack.
/// Success when standard input ends; failure when the limits cannot be set or a
/// pipe breaks.
pub fn main(limits: Limits) -> ExitCode {
    if let Err(err) = set_limits(limits) {
        tracing::error!(%err, "mapping worker: cannot set its limits");
        return ExitCode::FAILURE;
    }
    let serving = std::thread::Builder::new()
        .name("mapping".to_owned())
        .stack_size(STACK_BYTES)
        .spawn(|| serve(io::stdin().lock(), io::stdout().lock()));
    match serving.map(std::thread::JoinHandle::join) {
        Ok(Ok(Ok(()))) => ExitCode::SUCCESS,
        Ok(Ok(Err(err))) => {
            tracing::error!(%err, "mapping worker: standard input or output failed");
            ExitCode::FAILURE
        }
        Ok(Err(_)) => ExitCode::FAILURE,
        Err(err) => {
            tracing::error!(%err, "mapping worker: cannot start its thread");
            ExitCode::FAILURE
        }
    }
}

fn set_limits(limits: Limits) -> nix::Result<()> {
    use nix::sys::resource::{setrlimit, Resource};
    let bytes = limits.memory_mib.saturating_mul(1024 * 1024);
    setrlimit(Resource::RLIMIT_AS, bytes, bytes)?;
    // An abort (stack overflow, allocation failure) must not write a core file of
    // up to the whole address space.
    setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
    // A dispatcher killed with SIGKILL cannot kill its children: the kernel does,
    // so that a child spinning in an endless program is not left behind. (The
    // signal follows the parent's thread that started the child; the dispatcher
    // starts them from its runtime's long-lived worker threads.)
    #[cfg(target_os = "linux")]
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
    Ok(())
}

/// Answers each request line of `input` with one response line on `output`, until
/// `input` ends. A line that is not a request is answered with an error; compiled
/// programs are kept by mapping id.
pub fn serve(mut input: impl BufRead, mut output: impl Write) -> io::Result<()> {
    let mut programs: HashMap<i64, MappingProgram> = HashMap::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let response = match serde_json::from_slice::<Request>(&line) {
            Ok(request) => run(&mut programs, &request),
            Err(err) => Response::Err(format!("malformed mapping request: {err}")),
        };
        // serde_json writes no raw newline: one response is one line.
        serde_json::to_writer(&mut output, &response)?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
}

fn run(programs: &mut HashMap<i64, MappingProgram>, request: &Request) -> Response {
    if request.mapping_id == DRY_RUN_MAPPING_ID {
        // A dry run's program is not a published version: compiled each time, kept
        // by no one.
        return match MappingProgram::compile_here(&request.source) {
            Ok(program) => match program.run(&request.payload) {
                Ok(body) => Response::Ok(body),
                Err(err) => Response::Err(err.to_string()),
            },
            Err(err) => Response::Err(err.to_string()),
        };
    }
    let program = match programs.get(&request.mapping_id) {
        Some(program) => program,
        // On this thread (large stack, set up by `main`): `compile` would reserve a
        // stack beyond this process's address-space limit. An overflow here costs
        // only this process.
        None => match MappingProgram::compile_here(&request.source) {
            Ok(program) => programs.entry(request.mapping_id).or_insert(program),
            Err(err) => return Response::Err(err.to_string()),
        },
    };
    match program.run(&request.payload) {
        Ok(body) => Response::Ok(body),
        Err(err) => Response::Err(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn exchange(input: &str) -> Vec<serde_json::Value> {
        let mut output = Vec::new();
        let served = serve(input.as_bytes(), &mut output);
        assert!(served.is_ok(), "{served:?}");
        String::from_utf8_lossy(&output)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_default())
            .collect()
    }

    fn request(mapping_id: i64, source: &str) -> String {
        let request = Request {
            mapping_id,
            source: source.to_owned(),
            payload: json!({"order": {"id": 7, "note": "line\nbreak"}}),
        };
        serde_json::to_string(&request).unwrap_or_default() + "\n"
    }

    #[test]
    fn each_request_line_gets_one_response_line() {
        let input = request(1, "{id: .order.id}") + &request(2, ".order.note");
        assert_eq!(
            exchange(&input),
            vec![json!({"ok": {"id": 7}}), json!({"ok": "line\nbreak"})]
        );
    }

    #[test]
    fn programs_are_cached_by_mapping_id() {
        let input = request(1, "{id: .order.id}") + &request(1, "garbage ((");
        assert_eq!(
            exchange(&input),
            vec![json!({"ok": {"id": 7}}), json!({"ok": {"id": 7}})]
        );
    }

    #[test]
    fn dry_runs_are_compiled_each_time_and_never_cached() {
        let input = request(DRY_RUN_MAPPING_ID, "{id: .order.id}")
            + &request(DRY_RUN_MAPPING_ID, ".order.note")
            + &request(DRY_RUN_MAPPING_ID, "garbage ((");
        let out = exchange(&input);
        assert_eq!(out[0], json!({"ok": {"id": 7}}));
        assert_eq!(out[1], json!({"ok": "line\nbreak"}));
        assert!(out[2]["err"]
            .as_str()
            .is_some_and(|m| m.contains("does not compile")));
    }

    #[test]
    fn program_failures_are_error_responses() {
        let input = request(3, r#"error("no way")"#) + &request(4, "empty") + &request(5, "(");
        let out = exchange(&input);
        assert_eq!(out.len(), 3);
        assert!(out[0]["err"].as_str().is_some_and(|m| m.contains("no way")));
        assert!(out[1]["err"]
            .as_str()
            .is_some_and(|m| m.contains("no output")));
        assert!(out[2]["err"]
            .as_str()
            .is_some_and(|m| m.contains("does not compile")));
    }

    #[test]
    fn a_line_that_is_not_a_request_is_answered_and_serving_goes_on() {
        let input = "not json\n\n{\"mapping_id\": \"x\"}\n".to_owned() + &request(1, ".order.id");
        let out = exchange(&input);
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(out[0]["err"]
            .as_str()
            .is_some_and(|m| m.starts_with("malformed mapping request")));
        assert!(out[1]["err"].is_string());
        assert_eq!(out[2], json!({"ok": 7}));
    }

    #[test]
    fn serving_ends_quietly_when_input_ends() {
        assert_eq!(exchange(""), Vec::<serde_json::Value>::new());
    }
}
