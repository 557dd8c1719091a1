import { formatLocal, formatRelative, formatUtc } from "../lib/format";

/** A time in local time, with UTC in its title. `relative` shows "3 min ago" instead. */
export function Time(props: {
  value: string | null | undefined;
  relative?: boolean;
  empty?: string;
}) {
  const { value } = props;
  if (!value) return <span className="muted">{props.empty ?? "—"}</span>;
  const utc = formatUtc(value);
  const text = props.relative ? formatRelative(value) : formatLocal(value);
  return (
    <time
      dateTime={value}
      title={props.relative ? `${formatLocal(value)} (${utc})` : utc}
    >
      {text}
    </time>
  );
}
