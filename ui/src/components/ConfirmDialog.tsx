import {
  useEffect,
  useId,
  useRef,
  type FormEvent,
  type ReactNode,
} from "react";

/**
 * A modal confirmation on the native <dialog>: Escape and Cancel close it.
 * Put form fields (e.g. a reason) in `children`; `confirmDisabled` holds the
 * confirm button until they are valid.
 */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children?: ReactNode;
  confirmLabel?: string;
  danger?: boolean;
  busy?: boolean;
  confirmDisabled?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  testId?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const { open } = props;

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      if (typeof d.showModal === "function") d.showModal();
      else d.setAttribute("open", "");
    } else if (!open && d.open) {
      d.close();
    }
  }, [open]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!props.busy && !props.confirmDisabled) props.onConfirm();
  };

  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      data-testid={props.testId ?? "confirm-dialog"}
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      {open ? (
        <form method="dialog" onSubmit={submit}>
          <h2 id={titleId} className="dialog-title">
            {props.title}
          </h2>
          <div className="dialog-body">{props.children}</div>
          <div className="dialog-actions">
            <button type="button" className="btn" onClick={props.onCancel}>
              Cancel
            </button>
            <button
              type="submit"
              className={`btn ${props.danger ? "btn-danger" : "btn-primary"}`}
              disabled={props.busy || props.confirmDisabled}
              data-testid="confirm-button"
            >
              {props.busy ? "Working…" : (props.confirmLabel ?? "Confirm")}
            </button>
          </div>
        </form>
      ) : null}
    </dialog>
  );
}
