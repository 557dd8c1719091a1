import { useId, useState, type FormEvent } from "react";
import { useMutation } from "urql";
import { FormActions } from "../../components/FormActions";
import { can, SCOPES, type Scope } from "../../lib/permissions";
import { useSession } from "../../lib/session";
import { SCOPE_HINTS, validateIssueForm } from "./issue";
import { ISSUE_KEY } from "./queries";

export interface IssuedKey {
  key: string;
  name: string;
  prefix: string;
}

/**
 * The form that issues a key. Scopes the signed-in key does not hold cannot
 * be granted (the server answers `scope_not_grantable`), so they are disabled.
 */
export function IssueKeyForm(props: {
  onIssued: (issued: IssuedKey) => void;
  onCancel: () => void;
}) {
  const { viewer } = useSession();
  const [name, setName] = useState("");
  const [permissions, setPermissions] = useState<Scope[]>([]);
  const [rateLimit, setRateLimit] = useState("");
  const [invalid, setInvalid] = useState<{
    field: string;
    message: string;
  } | null>(null);
  const [issue, runIssue] = useMutation(ISSUE_KEY);
  const ids = { name: useId(), rate: useId(), perms: useId(), error: useId() };
  const adminChosen = permissions.includes("admin");

  const toggle = (scope: Scope, on: boolean) =>
    setPermissions((p) => (on ? [...p, scope] : p.filter((s) => s !== scope)));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const checked = validateIssueForm({ name, permissions, rateLimit });
    if (!checked.ok) {
      setInvalid(checked);
      return;
    }
    setInvalid(null);
    const res = await runIssue({ input: checked.input });
    if (res.data) {
      const { key, apiKey } = res.data.issueApiKey;
      props.onIssued({ key, name: apiKey.name, prefix: apiKey.prefix });
    }
  };

  const fieldError = (field: string) =>
    invalid?.field === field ? (
      <p className="field-error" id={ids.error} role="alert">
        {invalid.message}
      </p>
    ) : null;

  return (
    <form
      className="card form issue-form"
      onSubmit={submit}
      noValidate
      aria-labelledby="issue-title"
    >
      <h2 id="issue-title">Issue an API key</h2>
      <div className="field">
        <label htmlFor={ids.name}>Name</label>
        <input
          id={ids.name}
          value={name}
          maxLength={100}
          onChange={(e) => setName(e.target.value)}
          aria-invalid={invalid?.field === "name"}
          aria-describedby={invalid?.field === "name" ? ids.error : undefined}
          data-testid="key-name-input"
          autoFocus
        />
        {fieldError("name")}
      </div>
      <fieldset
        className="field scopes"
        aria-describedby={
          invalid?.field === "permissions" ? ids.error : undefined
        }
      >
        <legend>Permissions</legend>
        <div className="scope-grid">
          {SCOPES.map((scope) => {
            const grantable = can(viewer.permissions, scope);
            const impliedByAdmin = adminChosen && scope !== "admin";
            return (
              <label
                key={scope}
                className={`checkbox scope${grantable ? "" : " scope-disabled"}`}
              >
                <input
                  type="checkbox"
                  value={scope}
                  checked={permissions.includes(scope) || impliedByAdmin}
                  disabled={!grantable || impliedByAdmin}
                  onChange={(e) => toggle(scope, e.target.checked)}
                  data-testid={`scope-${scope}`}
                />
                <span>
                  <code>{scope}</code>
                  <span className="muted small scope-hint">
                    {grantable
                      ? SCOPE_HINTS[scope]
                      : "your key cannot grant this"}
                  </span>
                </span>
              </label>
            );
          })}
        </div>
        {fieldError("permissions")}
      </fieldset>
      <div className="field rate-field">
        <label htmlFor={ids.rate}>Rate limit (requests per minute)</label>
        <input
          id={ids.rate}
          type="number"
          min={1}
          step={1}
          inputMode="numeric"
          placeholder="service default"
          value={rateLimit}
          onChange={(e) => setRateLimit(e.target.value)}
          aria-invalid={invalid?.field === "rateLimit"}
          aria-describedby={
            invalid?.field === "rateLimit" ? ids.error : undefined
          }
          data-testid="key-rate-input"
        />
        {fieldError("rateLimit")}
      </div>
      <FormActions
        error={issue.error}
        errorTitle="The key was not issued"
        busy={issue.fetching}
        submitLabel="Issue key"
        busyLabel="Issuing…"
        submitTestId="issue-key-submit"
        onCancel={props.onCancel}
      />
    </form>
  );
}
