import { useId, useState, type FormEvent } from "react";
import { useMutation } from "urql";
import { FormActions } from "../../components/FormActions";
import type {
  EndpointFieldsFragment,
  HeadOfLineRule,
  OrderingMode,
} from "../../gql/graphql";
import { errorField } from "./errors";
import { REGISTER_ENDPOINT } from "./operations";
import {
  DEAD_LETTER_RULES,
  ORDERING_MODES,
  orderingFormProblem,
  orderingFormState,
  orderingInput,
  type OrderingFormState,
} from "./ordering";
import { describeRetrySchedule, parseRetrySchedule } from "./retrySchedule";

const SYSTEM_NAME = /^[a-z0-9_.-]+$/;

/** The register form. Calls `onRegistered` with the endpoint and its secret (shown once by the caller). */
export function RegisterEndpointForm(props: {
  onRegistered: (endpoint: EndpointFieldsFragment, secret: string) => void;
  onCancel: () => void;
}) {
  const id = useId();
  const [systemName, setSystemName] = useState("");
  const [url, setUrl] = useState("");
  const [timeoutSecs, setTimeoutSecs] = useState("15");
  const [schedule, setSchedule] = useState("");
  const [touched, setTouched] = useState(false);
  const [ordering, setOrdering] = useState<OrderingFormState>(
    orderingFormState(null),
  );
  const [result, register] = useMutation(REGISTER_ENDPOINT);

  const parsed = parseRetrySchedule(schedule);
  const timeout = Number(timeoutSecs);
  const errors = {
    systemName:
      systemName.trim() === ""
        ? "Give the target system's name."
        : SYSTEM_NAME.test(systemName.trim())
          ? null
          : "Lowercase letters, digits, “_”, “.” and “-” only.",
    url: /^https?:\/\/\S+$/i.test(url.trim())
      ? null
      : "An absolute http:// or https:// URL.",
    timeout:
      Number.isInteger(timeout) && timeout >= 1 && timeout <= 60
        ? null
        : "Whole seconds from 1 to 60.",
    schedule: parsed.ok ? null : parsed.error,
    ordering: orderingFormProblem(ordering),
  };
  const valid = Object.values(errors).every((e) => e == null);
  const serverField = errorField(result.error);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!valid || !parsed.ok) return;
    const res = await register({
      input: {
        systemName: systemName.trim(),
        url: url.trim(),
        timeoutMs: timeout * 1000,
        retrySchedule: parsed.schedule,
        // NONE is the server's default: leave it out.
        ordering: ordering.mode === "NONE" ? null : orderingInput(ordering),
      },
    });
    const out = res.data?.registerEndpoint;
    if (out) props.onRegistered(out.endpoint, out.secret);
  };

  const show = (field: keyof typeof errors) => (touched ? errors[field] : null);
  const invalid = (field: keyof typeof errors, server: string) =>
    show(field) != null || serverField === server;

  return (
    <form
      className="card form register-form"
      onSubmit={submit}
      noValidate
      aria-labelledby={`${id}-title`}
    >
      <h2 id={`${id}-title`}>Register an endpoint</h2>
      <div className="field">
        <label htmlFor={`${id}-system`}>Target system</label>
        <input
          id={`${id}-system`}
          name="systemName"
          value={systemName}
          autoComplete="off"
          spellCheck={false}
          placeholder="crm"
          aria-invalid={invalid("systemName", "systemName")}
          aria-describedby={`${id}-system-help`}
          onChange={(e) => setSystemName(e.target.value)}
          data-testid="endpoint-system-name"
        />
        <span
          id={`${id}-system-help`}
          className={show("systemName") ? "field-error" : "hint"}
        >
          {show("systemName") ??
            "Mappings for this target system decide what its endpoints receive."}
        </span>
      </div>
      <div className="field">
        <label htmlFor={`${id}-url`}>URL</label>
        <input
          id={`${id}-url`}
          name="url"
          type="url"
          inputMode="url"
          value={url}
          autoComplete="off"
          spellCheck={false}
          placeholder="https://crm.example.com/hooks"
          aria-invalid={invalid("url", "url")}
          aria-describedby={`${id}-url-help`}
          onChange={(e) => setUrl(e.target.value)}
          data-testid="endpoint-url"
        />
        <span
          id={`${id}-url-help`}
          className={show("url") ? "field-error" : "hint"}
        >
          {show("url") ?? "Where webhooks are POSTed."}
        </span>
      </div>
      <div className="form-row">
        <div className="field">
          <label htmlFor={`${id}-timeout`}>Timeout (seconds)</label>
          <input
            id={`${id}-timeout`}
            name="timeout"
            type="number"
            min={1}
            max={60}
            step={1}
            value={timeoutSecs}
            aria-invalid={invalid("timeout", "timeoutMs")}
            aria-describedby={`${id}-timeout-help`}
            onChange={(e) => setTimeoutSecs(e.target.value)}
            data-testid="endpoint-timeout"
          />
          <span
            id={`${id}-timeout-help`}
            className={show("timeout") ? "field-error" : "hint"}
          >
            {show("timeout") ?? "Per attempt, 1 to 60."}
          </span>
        </div>
        <div className="field grow">
          <label htmlFor={`${id}-schedule`}>Retry schedule (optional)</label>
          <input
            id={`${id}-schedule`}
            name="retrySchedule"
            value={schedule}
            autoComplete="off"
            spellCheck={false}
            placeholder="0, 5, 300, 3600"
            aria-invalid={!parsed.ok || serverField === "retrySchedule"}
            aria-describedby={`${id}-schedule-help`}
            onChange={(e) => setSchedule(e.target.value)}
            data-testid="endpoint-retry-schedule"
          />
          <span
            id={`${id}-schedule-help`}
            className={parsed.ok ? "hint" : "field-error"}
            aria-live="polite"
          >
            {parsed.ok
              ? parsed.schedule
                ? `Delays in seconds: ${describeRetrySchedule(parsed.schedule)}`
                : "Comma-separated delays in seconds; empty: the default schedule."
              : parsed.error}
          </span>
        </div>
      </div>
      <div className="form-row">
        <div className="field">
          <label htmlFor={`${id}-ordering`}>Ordering</label>
          <select
            id={`${id}-ordering`}
            name="orderingMode"
            value={ordering.mode}
            onChange={(e) =>
              setOrdering({ ...ordering, mode: e.target.value as OrderingMode })
            }
            data-testid="endpoint-ordering-mode"
          >
            {ORDERING_MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </div>
        {ordering.mode === "KEY" ? (
          <div className="field grow">
            <label htmlFor={`${id}-key-path`}>Key path</label>
            <input
              id={`${id}-key-path`}
              name="keyPath"
              className="mono"
              value={ordering.keyPath}
              autoComplete="off"
              spellCheck={false}
              placeholder=".payload.customer_id"
              aria-invalid={invalid("ordering", "keyPath")}
              aria-describedby={`${id}-key-path-help`}
              onChange={(e) =>
                setOrdering({ ...ordering, keyPath: e.target.value })
              }
              data-testid="endpoint-ordering-key-path"
            />
            <span
              id={`${id}-key-path-help`}
              className={show("ordering") ? "field-error" : "hint"}
            >
              {show("ordering") ??
                "A jq path over the event; one delivery at a time per value."}
            </span>
          </div>
        ) : null}
        {ordering.mode !== "NONE" ? (
          <div className="field">
            <label htmlFor={`${id}-on-dead-letter`}>Dead letter</label>
            <select
              id={`${id}-on-dead-letter`}
              name="onDeadLetter"
              value={ordering.onDeadLetter}
              onChange={(e) =>
                setOrdering({
                  ...ordering,
                  onDeadLetter: e.target.value as HeadOfLineRule,
                })
              }
              data-testid="endpoint-ordering-rule"
            >
              {DEAD_LETTER_RULES.map((r) => (
                <option key={r.value} value={r.value}>
                  {r.label}
                </option>
              ))}
            </select>
          </div>
        ) : null}
      </div>
      <FormActions
        error={result.error}
        errorTitle="Not registered"
        busy={result.fetching}
        submitLabel="Register"
        busyLabel="Registering…"
        submitTestId="register-endpoint"
        onCancel={props.onCancel}
      />
    </form>
  );
}
