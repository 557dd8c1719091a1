//! jq mapping programs, compiled and run with the jaq crates.
//!
//! A mapping turns an integration event's payload into the body sent to one
//! target system. Programs are compiled when they are published (so a bad one
//! is rejected with the parser's message and position) and again by whoever runs
//! them; compiling is cheap and a compiled [`MappingProgram`] is `Send + Sync`,
//! so a dispatcher may cache it per `(mapping_id)`.
//!
//! Only jaq's core filters, the generic part of its standard library
//! (`map`, `select`, `to_entries`, `length`, `keys`, `tostring`, ...) and its JSON
//! filters are available: no regex, time, math, formats, `input`, or module
//! `import`/`include` (the loader refuses to read files).
//!
//! Known limit: jaq runs programs on the calling thread without a fuel or depth
//! limit and cannot be interrupted. A program that recurses without end
//! (`def f: 1 + f; f`) overflows the thread's stack, which aborts the whole
//! process (a Rust stack overflow cannot be caught); one that loops
//! (`def f: f; f`) never returns; one that builds a huge value (`[range(1e10)]`)
//! exhausts memory. A timeout on a thread helps with none of these, so never run an
//! untrusted program in a process that must survive it: the dispatcher runs them
//! in killable, memory-limited child processes (`dispatcher::sandbox`, ADR 0010).

use jaq_core::load::{self, Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars};
use jaq_json::Val;
use thiserror::Error;

type Data = jaq_core::data::JustLut<Val>;

/// Longest program source accepted, in bytes.
pub const MAX_PROGRAM_BYTES: usize = 64 * 1024;

/// Stack of the thread that compiles a program: measured, a program of
/// [`MAX_PROGRAM_BYTES`] nested as deep as it can go needs well under this in a
/// debug build (see the test `the_deepest_program_compiles_without_overflowing`).
pub const COMPILE_STACK_BYTES: usize = 1024 * 1024 * 1024;

/// Compiling or running a jq mapping failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MappingError {
    /// The program does not lex, parse or compile; `offset` is a byte offset into the
    /// source, `line`/`column` are 1-based (column counts characters).
    #[error("jq program does not compile at {line}:{column}: {message}")]
    Compile {
        /// The parser's or compiler's message, e.g. `expected term, found ")"`.
        message: String,
        /// Byte offset of the offending token in the source.
        offset: usize,
        /// 1-based line of the offending token.
        line: usize,
        /// 1-based column (in characters) of the offending token.
        column: usize,
    },
    /// The program is longer than [`MAX_PROGRAM_BYTES`].
    #[error("jq program is {len} bytes long, at most {max} are allowed")]
    TooLong {
        /// Length of the rejected source.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The program raised an error while running (`error("..")`, `.a` on a number, ...).
    #[error("jq program failed: {message}")]
    Runtime {
        /// jaq's error message.
        message: String,
    },
    /// The program called `halt` / `halt_error`.
    #[error("jq program halted with exit code {code}")]
    Halted {
        /// The exit code it asked for.
        code: i32,
    },
    /// The program produced no output (`empty`, a `select` that dropped the input).
    #[error("jq program produced no output")]
    NoOutput,
    /// The program's output cannot be represented as JSON (NaN, byte strings,
    /// non-string object keys).
    #[error("jq program output is not JSON: {message}")]
    NotJson {
        /// Why the output was refused.
        message: String,
    },
}

/// A compiled jq program. Cloning is cheap (the compiled filter is shared).
#[derive(Clone)]
pub struct MappingProgram {
    source: String,
    filter: std::sync::Arc<jaq_core::Filter<Data>>,
}

impl std::fmt::Debug for MappingProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappingProgram")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl MappingProgram {
    /// Compiles `source`; errors carry the parser's or compiler's message and position.
    ///
    /// jaq's lexer, parser and compiler recurse once per level of nesting, and
    /// a program of [`MAX_PROGRAM_BYTES`] can nest tens of thousands of levels deep
    /// (`[[[[…]]]]`), more than any thread's usual stack holds: a stack overflow
    /// aborts the whole process (the API publishing it, say). So compiling runs on
    /// a thread of its own whose stack, [`COMPILE_STACK_BYTES`], is larger than the
    /// deepest program of that size needs (its memory is only reserved, and used as
    /// deep as the program goes).
    pub fn compile(source: &str) -> Result<Self, MappingError> {
        if source.len() > MAX_PROGRAM_BYTES {
            return Err(MappingError::TooLong {
                len: source.len(),
                max: MAX_PROGRAM_BYTES,
            });
        }
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("jq-compile".to_owned())
                .stack_size(COMPILE_STACK_BYTES)
                .spawn_scoped(scope, || Self::compile_here(source))
                .map_err(|e| MappingError::Runtime {
                    message: format!("cannot start compiling the jq program: {e}"),
                })?
                .join()
                .unwrap_or_else(|_| {
                    Err(MappingError::Runtime {
                        message: "compiling the jq program panicked".to_owned(),
                    })
                })
        })
    }

    /// Compiles on the calling thread, for callers that give it a stack of its own
    /// or run where an overflow costs nothing but themselves (the dispatcher's
    /// mapping processes, whose address space is limited below
    /// [`COMPILE_STACK_BYTES`]); see [`MappingProgram::compile`].
    pub fn compile_here(source: &str) -> Result<Self, MappingError> {
        if source.len() > MAX_PROGRAM_BYTES {
            return Err(MappingError::TooLong {
                len: source.len(),
                max: MAX_PROGRAM_BYTES,
            });
        }
        let defs = jaq_core::defs()
            .chain(jaq_std::defs().filter(|def| !needs_missing_native(def.name, def.args.len())))
            .chain(jaq_json::defs());
        let funs = jaq_core::funs::<Data>()
            .chain(jaq_std::base_funs())
            .chain(jaq_json::funs());
        let arena = Arena::default();
        let program = File {
            code: source,
            path: (),
        };
        let modules = Loader::new(defs)
            .load(&arena, program)
            .map_err(|errs| load_error(source, errs))?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| compile_error(source, errs))?;
        Ok(Self {
            source: source.to_owned(),
            filter: std::sync::Arc::new(filter),
        })
    }

    /// The program's source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Runs the program on `payload` and returns its first output.
    ///
    /// An error raised by the program, a `halt`, no output at all, or an output that
    /// is not JSON is an `Err`; nothing here panics on program behaviour.
    pub fn run(&self, payload: &serde_json::Value) -> Result<serde_json::Value, MappingError> {
        let input = to_val(payload)?;
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        let mut outputs = self.filter.id.run((ctx, input));
        match outputs.next() {
            None => Err(MappingError::NoOutput),
            Some(Ok(value)) => from_val(&value),
            Some(Err(exn)) => Err(match exn.get_err() {
                Ok(err) => MappingError::Runtime {
                    message: err.to_string(),
                },
                Err(exn) => match exn.get_halt() {
                    Ok(code) => MappingError::Halted { code },
                    Err(other) => MappingError::Runtime {
                        message: format!("unexpected control flow: {other:?}"),
                    },
                },
            }),
        }
    }
}

/// jaq-std's prelude defines some filters on top of natives that exist only with its
/// optional features (log, math, regex, time, format), which we leave off: drop them,
/// or the prelude itself fails to compile.
fn needs_missing_native(name: &str, arity: usize) -> bool {
    matches!(
        (name, arity),
        ("stderr" | "debug", 0)
            | ("debug", 1)
            | ("halt_error", 0 | 1)
            | ("logb" | "significand" | "pow10" | "gamma", 0)
            | ("drem" | "nexttoward" | "scalb", 2)
            | ("test" | "scan" | "match" | "capture" | "splits", 1 | 2)
            | ("scan_" | "split", 2)
            | ("sub" | "gsub", 2 | 3)
            | ("todate" | "fromdate", 0)
            | (
                "@sh" | "@html" | "@htmld" | "@uri" | "@urid" | "@base64" | "@base64d",
                0
            )
    )
}

fn to_val(payload: &serde_json::Value) -> Result<Val, MappingError> {
    let bytes = serde_json::to_vec(payload).map_err(|e| MappingError::NotJson {
        message: e.to_string(),
    })?;
    jaq_json::read::parse_single(&bytes).map_err(|e| MappingError::NotJson {
        message: e.to_string(),
    })
}

fn from_val(value: &Val) -> Result<serde_json::Value, MappingError> {
    let mut buf = Vec::new();
    jaq_json::write::write(&mut buf, &jaq_json::write::Pp::default(), 0, value).map_err(|e| {
        MappingError::NotJson {
            message: e.to_string(),
        }
    })?;
    serde_json::from_slice(&buf).map_err(|e| MappingError::NotJson {
        message: e.to_string(),
    })
}

/// Byte offset of `part` inside `whole`, when `part` is a slice of it.
fn offset_in(whole: &str, part: &str) -> usize {
    let start = whole.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    match at.checked_sub(start) {
        Some(offset) if offset <= whole.len() => offset,
        _ => 0,
    }
}

fn positioned(source: &str, offset: usize, message: String) -> MappingError {
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    MappingError::Compile {
        message,
        offset,
        line,
        column,
    }
}

fn found_text(found: &str) -> String {
    if found.is_empty() {
        "end of input".to_owned()
    } else {
        let shown: String = found.chars().take(20).collect();
        format!("\"{shown}\"")
    }
}

fn load_error(source: &str, errs: load::Errors<&str, ()>) -> MappingError {
    let mut first: Option<(usize, String)> = None;
    let mut note = |found: &str, message: String| {
        if first.is_none() {
            first = Some((offset_in(source, found), message));
        }
    };
    for (_file, err) in errs {
        match err {
            load::Error::Io(items) => {
                for (path, why) in items {
                    note(path, format!("cannot load module {path}: {why}"));
                }
            }
            load::Error::Lex(items) => {
                for (expected, found) in items {
                    let what = match expected {
                        load::lex::Expect::Delim(open) => match open {
                            "(" => "closing parenthesis",
                            "[" => "closing bracket",
                            "{" => "closing brace",
                            "\"" => "closing quote",
                            _ => "closing delimiter",
                        },
                        other => other.as_str(),
                    };
                    note(
                        found,
                        format!("expected {what}, found {}", found_text(found)),
                    );
                }
            }
            load::Error::Parse(items) => {
                for (expected, found) in items {
                    let what = expected.as_str();
                    note(
                        found,
                        format!("expected {what}, found {}", found_text(found)),
                    );
                }
            }
        }
    }
    let (offset, message) = first.unwrap_or((0, "program does not parse".to_owned()));
    positioned(source, offset, message)
}

fn compile_error(source: &str, errs: jaq_core::compile::Errors<&str, ()>) -> MappingError {
    let first = errs
        .into_iter()
        .flat_map(|(_file, items)| items)
        .next()
        .map(|(name, undefined)| {
            let arity = match undefined {
                jaq_core::compile::Undefined::Filter(arity) => format!("/{arity}"),
                _ => String::new(),
            };
            (
                offset_in(source, name),
                format!("undefined {} `{name}{arity}`", undefined.as_str()),
            )
        });
    let (offset, message) = first.unwrap_or((0, "program does not compile".to_owned()));
    positioned(source, offset, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(src: &str) -> MappingProgram {
        MappingProgram::compile(src).expect("program compiles")
    }

    #[test]
    fn identity_returns_the_payload() {
        let payload = json!({"a": 1, "b": [true, null, "x"], "big": 12345678901234_i64});
        assert_eq!(compile(".").run(&payload), Ok(payload));
    }

    #[test]
    fn a_typical_mapping_reshapes_the_payload() {
        let program = compile(
            r#"{id: .order.id, total: (.order.lines | map(.qty * .price) | add),
               names: [.order.lines[].name | ascii_downcase], n: (.order.lines | length)}"#,
        );
        let payload = json!({"order": {"id": "o-1", "lines": [
            {"name": "A", "qty": 2, "price": 3},
            {"name": "B", "qty": 1, "price": 4}
        ]}});
        assert_eq!(
            program.run(&payload),
            Ok(json!({"id": "o-1", "total": 10, "names": ["a", "b"], "n": 2}))
        );
    }

    #[test]
    fn only_the_first_output_is_used() {
        assert_eq!(compile(".[]").run(&json!([1, 2])), Ok(json!(1)));
    }

    #[test]
    fn parse_error_carries_message_and_position() {
        let err = MappingProgram::compile("{a: .a,\n  b: (.b | }").expect_err("must fail");
        assert!(
            matches!(err, MappingError::Compile { line: 2, .. }),
            "{err:?}"
        );
        let MappingError::Compile {
            message, offset, ..
        } = err
        else {
            unreachable!()
        };
        assert!(message.contains("expected"), "{message}");
        assert!(offset > 8, "{offset}");
    }

    #[test]
    fn lex_error_carries_position() {
        let err = MappingProgram::compile(". | \"abc").expect_err("must fail");
        assert!(
            matches!(err, MappingError::Compile { line: 1, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn undefined_filter_is_a_compile_error_at_its_name() {
        let err = MappingProgram::compile(".a | frobnicate(1)").expect_err("must fail");
        assert!(
            matches!(
                &err,
                MappingError::Compile { offset: 5, line: 1, column: 6, message }
                    if message.contains("frobnicate/1")
            ),
            "{err:?}"
        );
    }

    #[test]
    fn empty_program_is_rejected() {
        assert!(matches!(
            MappingProgram::compile(""),
            Err(MappingError::Compile { .. })
        ));
    }

    #[test]
    fn imports_are_refused() {
        assert!(matches!(
            MappingProgram::compile("import \"x\" as x; ."),
            Err(MappingError::Compile { .. })
        ));
    }

    #[test]
    fn too_long_program_is_rejected() {
        let src = ".".repeat(MAX_PROGRAM_BYTES + 1);
        assert!(matches!(
            MappingProgram::compile(&src),
            Err(MappingError::TooLong { .. })
        ));
    }

    #[test]
    fn runtime_errors_are_errors_not_panics() {
        let cases = [
            ("error(\"boom\")", json!({})),
            (".a.b", json!({"a": 5})),
            ("\"a\" - 1", json!(null)),
            (".[] + 1", json!({"a": "x"})),
        ];
        for (src, input) in cases {
            let result = compile(src).run(&input);
            assert!(
                matches!(result, Err(MappingError::Runtime { .. })),
                "{src}: {result:?}"
            );
        }
    }

    #[test]
    fn no_output_is_an_error() {
        assert_eq!(compile("empty").run(&json!(1)), Err(MappingError::NoOutput));
        assert_eq!(
            compile("select(.x)").run(&json!({"x": false})),
            Err(MappingError::NoOutput)
        );
    }

    #[test]
    fn halt_does_not_exit_the_process() {
        let result = compile("halt").run(&json!(1));
        assert!(
            matches!(result, Err(MappingError::Halted { code: 0 })),
            "{result:?}"
        );
    }

    #[test]
    fn non_json_output_is_an_error() {
        assert!(matches!(
            compile("1 / 0").run(&json!(null)),
            Err(MappingError::NotJson { .. })
        ));
        let result = compile("{(1): 2}").run(&json!(null));
        assert!(
            matches!(
                result,
                Err(MappingError::NotJson { .. } | MappingError::Runtime { .. })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn compiled_programs_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<MappingProgram>();
    }

    #[test]
    fn the_deepest_program_compiles_without_overflowing() {
        // As deep as the length limit allows: every byte a bracket.
        let depth = MAX_PROGRAM_BYTES / 2;
        let deepest = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(deepest.len(), MAX_PROGRAM_BYTES);
        // (Too deep to run on a test thread's stack: compiling is the point here;
        // running happens in the dispatcher's sandbox.)
        let program = MappingProgram::compile(&deepest).unwrap();
        assert_eq!(program.source().len(), MAX_PROGRAM_BYTES);
        let parens = format!("{}.{}", "(".repeat(depth - 1), ")".repeat(depth - 1));
        assert!(MappingProgram::compile(&parens).is_ok());
        // Other ways to nest, each as deep as the limit allows.
        let fill = |open: &str, middle: &str, close: &str| {
            let n = (MAX_PROGRAM_BYTES - middle.len()) / (open.len() + close.len());
            format!("{}{middle}{}", open.repeat(n), close.repeat(n))
        };
        for nested in [
            fill("{a:", "1", "}"),
            fill("-", "1", ""),
            fill("try ", ".", ""),
            fill("if . then ", ".", " end"),
            fill("1 + (", "1", ")"),
            fill(".[", "0", "]"),
            fill("\"\\(", "1", ")\""),
            fill("def f: ", ".", "; f"),
        ] {
            let head: String = nested.chars().take(12).collect();
            let compiled = MappingProgram::compile(&nested);
            assert!(
                !matches!(compiled, Err(MappingError::Runtime { .. })),
                "{head}…: {compiled:?}"
            );
        }
        let unclosed = "[".repeat(MAX_PROGRAM_BYTES);
        assert!(matches!(
            MappingProgram::compile(&unclosed),
            Err(MappingError::Compile { .. })
        ));
    }
}
