import { PageHeader } from "../../components/PageHeader";
import { usePageTitle, type PageProps } from "../../lib/page";
import { useCan } from "../../lib/session";
import { useSearchParams } from "../../lib/url";
import { GlobalLog } from "./GlobalLog";
import { StreamPicker, StreamView } from "./StreamView";
import { streamKind } from "./streams";
import { VerifyLog } from "./VerifyLog";
import "./audit.css";

type Tab = "stream" | "log";

/**
 * The audit log: one stream's history with its hash chain and time travel
 * (`/audit?type=Delivery&id=…`), the global log, and the whole log's verification.
 * The route needs `audit:read`; verifying the whole log needs `jobs:write` too.
 */
export default function Page(_props: PageProps) {
  usePageTitle("Audit");
  const [params, setParams] = useSearchParams();
  const tab: Tab = params.tab === "log" ? "log" : "stream";
  const kind = streamKind(params.type);
  const id = params.id ?? "";
  const canVerify = useCan("jobs:write", "audit:read");

  const tabs: { key: Tab; label: string }[] = [
    { key: "stream", label: "Stream history" },
    { key: "log", label: "Global log" },
  ];

  return (
    <>
      <PageHeader
        title="Audit"
        description="Every change is an event in a hash-chained log: read a stream's history, see its state at any point, and prove the log unaltered."
      />
      {canVerify ? (
        <VerifyLog
          jobId={params.verify ?? null}
          onJob={(job) => setParams({ verify: job })}
        />
      ) : null}
      <div className="tabs" role="tablist" aria-label="Audit views">
        {tabs.map((t) => (
          <button
            key={t.key}
            type="button"
            role="tab"
            id={`audit-tab-${t.key}`}
            aria-selected={tab === t.key}
            aria-controls={`audit-panel-${t.key}`}
            className={`tab${tab === t.key ? " tab-active" : ""}`}
            onClick={() =>
              setParams({ tab: t.key === "stream" ? null : t.key })
            }
          >
            {t.label}
          </button>
        ))}
      </div>
      <div
        role="tabpanel"
        id={`audit-panel-${tab}`}
        aria-labelledby={`audit-tab-${tab}`}
        className="tab-panel"
      >
        {tab === "stream" ? (
          <>
            <StreamPicker
              key={`picker:${kind?.name ?? ""}:${id}`}
              type={kind?.name ?? params.type ?? ""}
              id={id}
              onPick={(type, streamId) => setParams({ type, id: streamId })}
            />
            {params.type && !kind ? (
              <p className="notice notice-error" role="alert">
                Unknown aggregate type <code>{params.type}</code>.
              </p>
            ) : null}
            {kind && id ? (
              <StreamView
                key={`stream:${kind.name}:${id}`}
                kind={kind}
                id={id}
              />
            ) : null}
            {!id ? (
              <p className="muted">
                Choose a stream, or follow a link from an event, delivery,
                endpoint or mapping.
              </p>
            ) : null}
          </>
        ) : (
          <GlobalLog
            type={params.logType ?? ""}
            onType={(t) => setParams({ logType: t || null })}
          />
        )}
      </div>
    </>
  );
}
