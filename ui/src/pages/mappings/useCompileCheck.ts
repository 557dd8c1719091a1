import { useEffect, useReducer, useRef } from "react";
import { useClient } from "urql";
import { toAppError } from "../../lib/errors";
import {
  CHECK_DEBOUNCE_MS,
  compileReducer,
  debounce,
  initialCompileState,
  type CompileState,
} from "./compileState";
import { CHECK_MAPPING } from "./operations";

/**
 * Compiles `program` with `checkMapping` 300 ms after it last changed. Answers
 * to an older text are dropped (each text gets a sequence number).
 */
export function useCompileCheck(
  program: string,
  enabled: boolean,
): CompileState {
  const client = useClient();
  const [state, dispatch] = useReducer(compileReducer, initialCompileState);
  const seq = useRef(0);
  const checker = useRef<ReturnType<typeof debounce<[string, number]>> | null>(
    null,
  );

  useEffect(() => {
    const d = debounce((text: string, n: number) => {
      dispatch({ type: "started", seq: n });
      void client
        .query(
          CHECK_MAPPING,
          { program: text },
          { requestPolicy: "network-only" },
        )
        .toPromise()
        .then((r) => {
          if (r.error) {
            const e = toAppError(r.error) ?? {
              code: "error",
              message: "check failed",
            };
            dispatch({
              type: "checkFailed",
              seq: n,
              code: e.code,
              message: e.message,
            });
          } else {
            dispatch({
              type: "checked",
              seq: n,
              error: r.data?.checkMapping ?? null,
            });
          }
        });
    }, CHECK_DEBOUNCE_MS);
    checker.current = d;
    return () => {
      d.cancel();
      checker.current = null;
    };
  }, [client]);

  useEffect(() => {
    seq.current += 1;
    const n = seq.current;
    const empty = !enabled || program.trim() === "";
    // An effect "subscribing" the text to the checker: the dispatch is the
    // start of the external check, not derived state.
    dispatch({ type: "edited", seq: n, empty });
    if (empty) checker.current?.cancel();
    else checker.current?.call(program, n);
  }, [program, enabled]);

  return state;
}
