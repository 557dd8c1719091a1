import { useEffect, useId, useRef, type ReactNode } from "react";
import { CopyButton } from "../../components/CopyButton";

/**
 * A signing secret shown this once, with a copy button and a warning. It lives
 * only in this component's props: leaving or dismissing it drops it for good.
 */
export function SecretReveal(props: {
  secret: string;
  title: string;
  children?: ReactNode;
  onDone: () => void;
}) {
  const ref = useRef<HTMLElement>(null);
  const titleId = useId();
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <section
      ref={ref}
      tabIndex={-1}
      className="card secret-reveal"
      aria-labelledby={titleId}
      data-testid="secret-reveal"
    >
      <h2 id={titleId}>{props.title}</h2>
      <p className="secret-warning" role="alert">
        <strong>
          <span aria-hidden="true">⚠ </span>Copy this secret now: it is shown
          only this once.
        </strong>{" "}
        The ledger keeps it encrypted and never shows it again. The receiving
        system needs it to verify the signatures of its webhooks.
      </p>
      <div className="secret">
        <code data-testid="endpoint-secret">{props.secret}</code>
        <CopyButton
          text={props.secret}
          label="Copy secret"
          testId="copy-secret"
        />
      </div>
      {props.children}
      <div className="form-actions">
        <button
          type="button"
          className="btn"
          onClick={props.onDone}
          data-testid="secret-done"
        >
          I have stored it
        </button>
      </div>
    </section>
  );
}
