import {
  forwardRef,
  useImperativeHandle,
  useRef,
  useState,
  type KeyboardEvent,
} from "react";
import {
  applyEdit,
  indentEdit,
  outdentEdit,
  tabAction,
  type Edit,
} from "./editorKeys";
import { offsetOf } from "./compileState";

export interface ProgramEditorHandle {
  /** Puts the caret at a 1-based line and column and focuses the textarea. */
  goTo: (line: number, column: number) => void;
}

/**
 * The jq program: a monospace textarea with line numbers. Tab indents by two
 * spaces and Shift+Tab outdents; Escape, then Tab, moves focus on as usual.
 * `errorLine` is marked in the gutter and behind the text.
 */
export const ProgramEditor = forwardRef<
  ProgramEditorHandle,
  {
    id: string;
    value: string;
    onChange: (value: string) => void;
    errorLine: number | null;
    readOnly?: boolean;
    describedBy?: string;
    invalid?: boolean;
  }
>(function ProgramEditor(props, ref) {
  const area = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  const backdrop = useRef<HTMLDivElement>(null);
  const released = useRef(false);
  const [escaped, setEscaped] = useState(false);
  const lines = props.value.split("\n");
  const lineCount = Math.max(lines.length, 1);

  useImperativeHandle(ref, () => ({
    goTo(line, column) {
      const el = area.current;
      if (!el) return;
      const at = offsetOf(el.value, line, column);
      el.focus();
      el.setSelectionRange(at, at);
    },
  }));

  const apply = (el: HTMLTextAreaElement, edit: Edit) => {
    el.setSelectionRange(edit.start, edit.end);
    // insertText keeps the browser's undo history; fall back to a plain update.
    let done: boolean;
    try {
      done = document.execCommand("insertText", false, edit.insert);
    } catch {
      done = false;
    }
    if (!done || el.value !== applyEdit(props.value, edit)) {
      el.value = applyEdit(props.value, edit);
      props.onChange(el.value);
    }
    el.setSelectionRange(edit.selStart, edit.selEnd);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    const action = tabAction(e, released.current);
    if (action === "release") {
      released.current = true;
      setEscaped(true);
      return;
    }
    if (e.key !== "Shift") {
      released.current = false;
      if (escaped) setEscaped(false);
    }
    if (props.readOnly || action === "default") return;
    e.preventDefault();
    const el = e.currentTarget;
    const edit =
      action === "indent"
        ? indentEdit(el.value, el.selectionStart, el.selectionEnd)
        : outdentEdit(el.value, el.selectionStart, el.selectionEnd);
    if (edit) apply(el, edit);
  };

  const syncScroll = () => {
    const el = area.current;
    if (!el) return;
    if (gutter.current) gutter.current.scrollTop = el.scrollTop;
    if (backdrop.current) {
      backdrop.current.scrollTop = el.scrollTop;
      backdrop.current.scrollLeft = el.scrollLeft;
    }
  };

  return (
    <div
      className={`code-editor${props.invalid ? " code-editor-invalid" : ""}`}
    >
      <div className="code-gutter" ref={gutter} aria-hidden="true">
        {Array.from({ length: lineCount }, (_, i) => (
          <div
            key={i}
            className={
              i + 1 === props.errorLine
                ? "code-line-no code-line-error"
                : "code-line-no"
            }
          >
            {i + 1 === props.errorLine ? "▶" : ""}
            {i + 1}
          </div>
        ))}
      </div>
      <div className="code-area">
        <div className="code-backdrop" ref={backdrop} aria-hidden="true">
          {lines.map((l, i) => (
            <div
              key={i}
              className={
                i + 1 === props.errorLine
                  ? "code-band code-band-error"
                  : "code-band"
              }
            >
              {l || " "}
            </div>
          ))}
        </div>
        <textarea
          ref={area}
          id={props.id}
          className="code-input"
          value={props.value}
          readOnly={props.readOnly}
          wrap="off"
          spellCheck={false}
          autoCapitalize="off"
          autoComplete="off"
          autoCorrect="off"
          rows={Math.min(Math.max(lineCount + 1, 8), 24)}
          aria-invalid={props.invalid || undefined}
          aria-describedby={[props.describedBy, `${props.id}-hint`]
            .filter(Boolean)
            .join(" ")}
          onChange={(e) => props.onChange(e.target.value)}
          onKeyDown={onKeyDown}
          onBlur={() => {
            released.current = false;
            setEscaped(false);
          }}
          onScroll={syncScroll}
          data-testid="mapping-program"
        />
      </div>
      <p
        id={`${props.id}-hint`}
        className="code-hint small muted"
        aria-live="polite"
      >
        {escaped
          ? "Tab now moves to the next control."
          : "Tab indents by two spaces, Shift+Tab outdents; press Esc then Tab to move on."}
      </p>
    </div>
  );
});
