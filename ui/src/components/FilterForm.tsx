import { useState, type FormEvent } from "react";
import { FilterBar, SelectFilter, TextFilter } from "./Filters";
import {
  countFilters,
  localInputToUtc,
  utcToLocalInput,
  type FilterSpec,
  type FilterValues,
} from "../lib/urlFilters";

/** How one filter of a spec is edited. */
export type FieldDef<K extends string> =
  | { key: K; label: string; input: "text"; placeholder?: string }
  | { key: K; label: string; input: "number"; placeholder?: string }
  | { key: K; label: string; input: "datetime" }
  | {
      key: K;
      label: string;
      input: "select";
      options: readonly { value: string; label: string }[];
      anyLabel?: string;
    };

/**
 * A filter form over URL filter values. Edits stay in the form until Apply
 * (or Enter); `datetime` fields are edited in local time and applied as UTC.
 * Remount it (key) when the URL changes so it shows the URL's values.
 */
export function FilterForm<S extends FilterSpec>(props: {
  fields: readonly FieldDef<keyof S & string>[];
  values: FilterValues<S>;
  onApply: (values: FilterValues<S>) => void;
  label: string;
  testIdPrefix: string;
}) {
  const { fields, values } = props;
  const [draft, setDraft] = useState<Record<string, string>>(() => {
    const d: Record<string, string> = {};
    for (const f of fields) {
      const v = values[f.key] ?? "";
      d[f.key] = f.input === "datetime" && v ? utcToLocalInput(v) : v;
    }
    return d;
  });
  const [invalid, setInvalid] = useState<string | null>(null);

  const set = (key: string, value: string) =>
    setDraft((d) => ({ ...d, [key]: value }));

  const apply = (e: FormEvent) => {
    e.preventDefault();
    const out: Record<string, string> = {};
    for (const f of fields) {
      const raw = (draft[f.key] ?? "").trim();
      if (!raw) continue;
      if (f.input === "datetime") {
        const utc = localInputToUtc(raw);
        if (!utc) {
          setInvalid(`${f.label}: not a valid date and time`);
          return;
        }
        out[f.key] = utc;
      } else {
        out[f.key] = raw;
      }
    }
    setInvalid(null);
    props.onApply(out as FilterValues<S>);
  };

  const active = countFilters(values);
  return (
    <form
      onSubmit={apply}
      className="filter-form"
      role="search"
      aria-label={props.label}
    >
      <FilterBar>
        {fields.map((f) => {
          const testId = `${props.testIdPrefix}-${f.key}`;
          switch (f.input) {
            case "select":
              return (
                <SelectFilter
                  key={f.key}
                  label={f.label}
                  value={draft[f.key] ?? ""}
                  options={f.options}
                  anyLabel={f.anyLabel}
                  testId={testId}
                  onChange={(v) => set(f.key, v)}
                />
              );
            case "datetime":
              return (
                <TextFilter
                  key={f.key}
                  label={`${f.label} (local)`}
                  type="datetime-local"
                  value={draft[f.key] ?? ""}
                  testId={testId}
                  onChange={(v) => set(f.key, v)}
                />
              );
            default:
              return (
                <TextFilter
                  key={f.key}
                  label={f.label}
                  type={f.input === "number" ? "number" : "text"}
                  value={draft[f.key] ?? ""}
                  placeholder={f.placeholder}
                  testId={testId}
                  onChange={(v) => set(f.key, v)}
                />
              );
          }
        })}
        <div className="filter-actions">
          <button
            type="submit"
            className="btn btn-primary"
            data-testid={`${props.testIdPrefix}-apply`}
          >
            Apply
          </button>
          {active > 0 ? (
            <button
              type="button"
              className="btn"
              data-testid={`${props.testIdPrefix}-clear`}
              onClick={() => props.onApply({})}
            >
              Clear ({active})
            </button>
          ) : null}
        </div>
      </FilterBar>
      {invalid ? (
        <p className="notice notice-warning" role="alert">
          {invalid}
        </p>
      ) : null}
    </form>
  );
}
