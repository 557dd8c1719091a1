import { progressPercent } from "../lib/format";

/**
 * A progress bar (role=progressbar). With `total` null the bar is
 * indeterminate (no aria-valuenow).
 */
export function ProgressBar(props: {
  done: number;
  total: number | null | undefined;
  label: string;
  testId?: string;
  tone?: "info" | "success" | "danger";
}) {
  const pct = progressPercent(props.done, props.total);
  const text =
    pct == null
      ? `${props.done} done`
      : `${pct} % (${props.done} of ${props.total})`;
  return (
    <div className="progress-wrap">
      <div
        className={`progress progress-${props.tone ?? "info"}${pct == null ? " progress-indeterminate" : ""}`}
        role="progressbar"
        aria-label={props.label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct ?? undefined}
        aria-valuetext={text}
        data-testid={props.testId}
      >
        <div className="progress-fill" style={{ width: `${pct ?? 100}%` }} />
      </div>
      <span className="progress-text">{text}</span>
    </div>
  );
}
