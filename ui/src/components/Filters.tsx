import { useId, type ReactNode } from "react";

/** A row of filter controls that wraps on narrow screens. */
export function FilterBar(props: { children: ReactNode; label?: string }) {
  return (
    <div
      className="filter-bar"
      role="group"
      aria-label={props.label ?? "Filters"}
    >
      {props.children}
    </div>
  );
}

/** A labelled <select>; the empty value means "any". */
export function SelectFilter(props: {
  label: string;
  value: string;
  options: readonly (string | { value: string; label: string })[];
  onChange: (value: string) => void;
  anyLabel?: string;
  testId?: string;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <select
        id={id}
        value={props.value}
        data-testid={props.testId}
        onChange={(e) => props.onChange(e.target.value)}
      >
        <option value="">{props.anyLabel ?? "Any"}</option>
        {props.options.map((o) => {
          const opt = typeof o === "string" ? { value: o, label: o } : o;
          return (
            <option key={opt.value} value={opt.value}>
              {opt.label}
            </option>
          );
        })}
      </select>
    </div>
  );
}

/** A labelled text input. */
export function TextFilter(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  placeholder?: string;
  type?: "text" | "datetime-local" | "number" | "search";
  testId?: string;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        type={props.type ?? "text"}
        value={props.value}
        placeholder={props.placeholder}
        data-testid={props.testId}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </div>
  );
}
