import type { MappingFieldsFragment } from "../../gql/graphql";

/** live / retired / superseded, as a badge with a text (not colour alone). */
export function MappingStateBadge(props: {
  mapping: Pick<MappingFieldsFragment, "live" | "retiredAt">;
}) {
  const { live, retiredAt } = props.mapping;
  if (live)
    return (
      <span
        className="badge badge-success"
        data-testid="mapping-state"
        data-state="live"
      >
        <span aria-hidden="true">● </span>live
      </span>
    );
  if (retiredAt)
    return (
      <span
        className="badge badge-danger"
        data-testid="mapping-state"
        data-state="retired"
      >
        retired
      </span>
    );
  return (
    <span
      className="badge badge-neutral"
      data-testid="mapping-state"
      data-state="superseded"
    >
      superseded
    </span>
  );
}
