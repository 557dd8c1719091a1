import { PageHeader } from "../../components/PageHeader";
import { usePageTitle, type PageProps } from "../../lib/page";
import { useUrlQuery } from "../../lib/url";
import "../events/events.css";
import { DeadLettersTab } from "./DeadLettersTab";
import { DeliveriesTab } from "./DeliveriesTab";
import "./deliveries.css";
import { DeliveryDetail } from "./DeliveryDetail";
import { RetryQueueTab } from "./RetryQueueTab";

type Tab = "deliveries" | "retry" | "dead";

const TABS: { key: Tab; label: string }[] = [
  { key: "deliveries", label: "Deliveries" },
  { key: "retry", label: "Retry queue" },
  { key: "dead", label: "Dead letters" },
];

function tabOf(search: string): Tab {
  const t = new URLSearchParams(search).get("tab");
  return t === "retry" || t === "dead" ? t : "deliveries";
}

/** `/deliveries` (tabs: deliveries, retry queue, dead letters) and `/deliveries/:id`. */
export default function Page(props: PageProps) {
  const id = props.params.id;
  if (id) return <DeliveryDetail key={id} id={id} />;
  return <DeliveriesLists />;
}

function DeliveriesLists() {
  const { search, go } = useUrlQuery();
  const tab = tabOf(search);
  usePageTitle(TABS.find((t) => t.key === tab)!.label);
  return (
    <>
      <PageHeader
        title="Deliveries"
        description="Webhooks sent to endpoints: every delivery, the queue of those waiting for a retry, and those given up on."
      />
      <div className="tabs" role="tablist" aria-label="Delivery lists">
        {TABS.map((t) => (
          <button
            key={t.key}
            type="button"
            role="tab"
            id={`deliveries-tab-${t.key}`}
            aria-selected={tab === t.key}
            aria-controls={`deliveries-panel-${t.key}`}
            className="tab"
            data-testid={`tab-${t.key}`}
            onClick={() => {
              if (t.key !== tab)
                go(t.key === "deliveries" ? "" : `tab=${t.key}`);
            }}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div
        role="tabpanel"
        id={`deliveries-panel-${tab}`}
        aria-labelledby={`deliveries-tab-${tab}`}
      >
        {tab === "deliveries" ? (
          <DeliveriesTab search={search} go={go} />
        ) : tab === "retry" ? (
          <RetryQueueTab search={search} go={go} />
        ) : (
          <DeadLettersTab search={search} go={go} />
        )}
      </div>
    </>
  );
}
