import { ErrorNotice } from "./ErrorNotice";

/**
 * The end of a form: why the last submit failed (with `errorTitle`), then the
 * submit button (saying `busyLabel` while it runs) and Cancel.
 */
export function FormActions(props: {
  error: unknown;
  errorTitle: string;
  busy: boolean;
  submitLabel: string;
  busyLabel: string;
  submitTestId?: string;
  onCancel: () => void;
}) {
  return (
    <>
      <ErrorNotice error={props.error} title={props.errorTitle} />
      <div className="form-actions">
        <button
          type="submit"
          className="btn btn-primary"
          disabled={props.busy}
          data-testid={props.submitTestId}
        >
          {props.busy ? props.busyLabel : props.submitLabel}
        </button>
        <button type="button" className="btn" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </>
  );
}
