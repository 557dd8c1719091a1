import { toAppError, type AppError } from "../lib/errors";

/**
 * Shows an error with its stable code. Accepts urql's CombinedError, an
 * AppError, or anything thrown. Renders nothing for no error.
 */
export function ErrorNotice(props: {
  error: unknown;
  title?: string;
  onRetry?: () => void;
}) {
  const err: AppError | null =
    props.error &&
    typeof props.error === "object" &&
    "code" in props.error &&
    "message" in props.error
      ? (props.error as AppError)
      : toAppError(props.error);
  if (!err) return null;
  let message = err.message;
  if (err.code === "missing_scope" && err.scope) {
    message = `This API key lacks the ${err.scope} scope.`;
  } else if (err.code === "rate_limited" && err.retryAfterSecs != null) {
    message = `Too many requests; try again in ${err.retryAfterSecs} s.`;
  } else if (err.code === "network_error") {
    message = "The server could not be reached.";
  }
  return (
    <div
      className="notice notice-error"
      role="alert"
      data-testid="error-notice"
    >
      <p>
        {props.title ? <strong>{props.title}: </strong> : null}
        {message} <code className="error-code">{err.code}</code>
      </p>
      {props.onRetry ? (
        <button type="button" className="btn btn-small" onClick={props.onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}
