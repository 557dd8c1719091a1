import { useQuery } from "urql";
import { graphql } from "../../gql";
import type { AggregateType } from "../../gql/graphql";
import { ErrorNotice } from "../../components/ErrorNotice";

const VerifyChain = graphql(`
  query AuditVerifyChain($type: AggregateType!, $id: String!) {
    verifyChain(aggregateType: $type, aggregateId: $id) {
      events
      intact
      firstBrokenSequence
    }
  }
`);

/** The stream's hash chain, recomputed on the server: intact, or broken at sequence N. */
export function ChainBadge(props: {
  type: AggregateType;
  id: string;
  /** Moves the timeline to the first broken event. */
  onShowBroken?: (sequence: number) => void;
}) {
  const [{ data, fetching, error }, recheck] = useQuery({
    query: VerifyChain,
    variables: { type: props.type, id: props.id },
    requestPolicy: "network-only",
  });
  const chain = data?.verifyChain;
  return (
    <div className="audit-chain">
      {error ? <ErrorNotice error={error} title="Chain not verified" /> : null}
      {chain ? (
        chain.intact ? (
          <span
            className="badge badge-success"
            data-testid="chain-badge"
            data-intact="true"
          >
            ✓ Chain intact · {chain.events}{" "}
            {chain.events === 1 ? "event" : "events"}
          </span>
        ) : (
          <span
            className="badge badge-danger"
            data-testid="chain-badge"
            data-intact="false"
          >
            ✗ Chain broken at sequence {chain.firstBrokenSequence ?? "?"}
          </span>
        )
      ) : (
        <span
          className="badge badge-neutral"
          data-testid="chain-badge"
          aria-busy="true"
        >
          Verifying chain…
        </span>
      )}
      {chain &&
      !chain.intact &&
      chain.firstBrokenSequence != null &&
      props.onShowBroken ? (
        <button
          type="button"
          className="btn btn-small"
          onClick={() =>
            props.onShowBroken?.(chain.firstBrokenSequence as number)
          }
        >
          Show event {chain.firstBrokenSequence}
        </button>
      ) : null}
      <button
        type="button"
        className="btn btn-small"
        disabled={fetching}
        onClick={() => recheck({ requestPolicy: "network-only" })}
      >
        {fetching ? "Verifying…" : "Verify again"}
      </button>
    </div>
  );
}
