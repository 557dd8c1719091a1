/**
 * Compile-as-you-type: the program is checked (`checkMapping`) 300 ms after the
 * last keystroke; answers to older texts are dropped, so a slow answer never
 * overwrites a newer one.
 */

export const CHECK_DEBOUNCE_MS = 300;

export interface MappingErrorLike {
  code: string;
  message: string;
  line?: number | null;
  column?: number | null;
}

export type CompileState =
  | { status: "idle" } // nothing to check (empty program)
  | { status: "waiting"; seq: number } // typed, debounce running
  | { status: "checking"; seq: number }
  | { status: "ok"; seq: number }
  | { status: "invalid"; seq: number; error: MappingErrorLike }
  | { status: "failed"; seq: number; code: string; message: string }; // the check itself failed (network, scope...)

export type CompileAction =
  | { type: "edited"; seq: number; empty: boolean }
  | { type: "started"; seq: number }
  | { type: "checked"; seq: number; error: MappingErrorLike | null }
  | { type: "checkFailed"; seq: number; code: string; message: string };

export const initialCompileState: CompileState = { status: "idle" };

function current(state: CompileState, seq: number): boolean {
  return state.status !== "idle" && state.seq === seq;
}

export function compileReducer(
  state: CompileState,
  action: CompileAction,
): CompileState {
  switch (action.type) {
    case "edited":
      return action.empty
        ? { status: "idle" }
        : { status: "waiting", seq: action.seq };
    case "started":
      return current(state, action.seq)
        ? { status: "checking", seq: action.seq }
        : state;
    case "checked":
      if (!current(state, action.seq)) return state;
      return action.error
        ? { status: "invalid", seq: action.seq, error: action.error }
        : { status: "ok", seq: action.seq };
    case "checkFailed":
      return current(state, action.seq)
        ? {
            status: "failed",
            seq: action.seq,
            code: action.code,
            message: action.message,
          }
        : state;
  }
}

/** A trailing-edge debouncer: `call` restarts the timer; `cancel` drops a pending call. */
export interface Debounced<A extends unknown[]> {
  call: (...args: A) => void;
  cancel: () => void;
  flush: () => void;
}

export function debounce<A extends unknown[]>(
  fn: (...args: A) => void,
  ms: number,
): Debounced<A> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let pending: A | null = null;
  const run = () => {
    timer = null;
    const args = pending;
    pending = null;
    if (args) fn(...args);
  };
  return {
    call: (...args: A) => {
      pending = args;
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(run, ms);
    },
    cancel: () => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      pending = null;
    },
    flush: () => {
      if (timer !== null) clearTimeout(timer);
      run();
    },
  };
}

/**
 * The 1-based line and column of an `invalid_mapping` error, from the GraphQL
 * error's extensions (publishMapping) or a MappingError (checkMapping).
 */
export function errorPosition(
  e: { line?: unknown; column?: unknown } | null | undefined,
): {
  line: number | null;
  column: number | null;
} {
  const num = (v: unknown) =>
    typeof v === "number" && Number.isFinite(v) && v >= 1 ? v : null;
  return { line: num(e?.line), column: num(e?.column) };
}

/** The character offset in `text` of a 1-based line/column (clamped to the text). */
export function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf("\n", offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  const end = text.indexOf("\n", offset);
  const lineLen = (end < 0 ? text.length : end) - offset;
  return offset + Math.min(Math.max(column - 1, 0), lineLen);
}
