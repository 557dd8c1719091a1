import { useState } from "react";
import { useMutation } from "urql";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Time } from "../../components/Time";
import { useCan } from "../../lib/session";
import { REQUEUE_MUTATION } from "./operations";

/**
 * Puts one dead-lettered or cancelled delivery back in the queue
 * (`requeueDelivery`). Rendered only for keys with `deliveries:write`.
 */
export function RequeueButton(props: {
  deliveryId: string;
  onRequeued?: () => void;
  small?: boolean;
}) {
  const allowed = useCan("deliveries:write");
  const [state, requeue] = useMutation(REQUEUE_MUTATION);
  const [done, setDone] = useState<{ dueAt: string | null } | null>(null);
  if (!allowed) return null;
  if (done) {
    return (
      <span className="requeued-note" role="status">
        Requeued
        {done.dueAt ? (
          <>
            , due <Time value={done.dueAt} relative />
          </>
        ) : null}
      </span>
    );
  }
  return (
    <span className="requeue">
      <button
        type="button"
        className={`btn${props.small ? " btn-small" : ""}`}
        data-testid={`requeue-${props.deliveryId}`}
        disabled={state.fetching}
        aria-label={`Requeue delivery ${props.deliveryId}`}
        onClick={async () => {
          const res = await requeue(
            { id: props.deliveryId, reason: "requeued from the console" },
            { additionalTypenames: ["Delivery", "DeadLetter"] },
          );
          if (res.data) {
            setDone({ dueAt: res.data.requeueDelivery.dueAt ?? null });
            props.onRequeued?.();
          }
        }}
      >
        {state.fetching ? "Requeueing…" : "Requeue"}
      </button>
      {state.error ? <ErrorNotice error={state.error} /> : null}
    </span>
  );
}
