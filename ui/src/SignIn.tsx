import { useId, useState, type FormEvent } from "react";
import { ErrorNotice } from "./components/ErrorNotice";
import type { AppError } from "./lib/errors";

const EXPLANATIONS: Record<string, string> = {
  missing_api_key: "No API key was sent.",
  malformed_authorization: "That does not look like an API key.",
  unknown_api_key: "No API key matches.",
  invalid_api_key: "That API key is not valid.",
  revoked_api_key: "This API key has been revoked.",
  rate_limited: "Too many requests with this key; wait a moment.",
  network_error: "The server could not be reached.",
};

/** The sign-in page: paste an API key. */
export function SignIn(props: {
  onSubmit: (key: string) => Promise<void>;
  error: AppError | null;
}) {
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const inputId = useId();
  const hintId = useId();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!key.trim()) return;
    setBusy(true);
    try {
      await props.onSubmit(key);
    } finally {
      setBusy(false);
    }
  };

  const error = props.error
    ? {
        ...props.error,
        message: EXPLANATIONS[props.error.code] ?? props.error.message,
      }
    : null;

  return (
    <main className="signin" id="main">
      <form className="signin-card" onSubmit={submit} aria-describedby={hintId}>
        <h1>Integration Ledger</h1>
        <p className="muted" id={hintId}>
          Sign in with an API key. It is kept in this tab only and forgotten
          when the tab closes.
        </p>
        {error ? <ErrorNotice error={error} title="Not signed in" /> : null}
        <div className="field">
          <label htmlFor={inputId}>API key</label>
          <input
            id={inputId}
            type="password"
            autoComplete="off"
            spellCheck={false}
            placeholder="ilk_…"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            data-testid="api-key-input"
            required
            autoFocus
          />
        </div>
        <button
          type="submit"
          className="btn btn-primary"
          disabled={busy || !key.trim()}
          data-testid="sign-in"
        >
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
