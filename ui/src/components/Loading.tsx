/** A loading indicator announced to screen readers. */
export function Loading(props: { label?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {props.label ?? "Loading…"}
    </p>
  );
}
