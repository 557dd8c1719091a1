import { useEffect, useId, useRef, useState } from "react";
import { useMutation, useQuery } from "urql";
import { Link } from "wouter";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Loading } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { Time } from "../../components/Time";
import type { MappingFieldsFragment } from "../../gql/graphql";
import { usePolling } from "../../lib/live";
import { errorExtensions } from "../endpoints/errors";
import { usePageTitle } from "../../lib/page";
import { useCan } from "../../lib/session";
import { errorPosition, type CompileState } from "./compileState";
import { DryRunPanel } from "./DryRunPanel";
import { newestMapping } from "./mappingState";
import { MappingStateBadge } from "./MappingStateBadge";
import {
  MAPPING_HEAD_QUERY,
  PUBLISH_MAPPING,
  RETIRE_MAPPING,
} from "./operations";
import { ProgramEditor, type ProgramEditorHandle } from "./ProgramEditor";
import { useCompileCheck } from "./useCompileCheck";
import { VersionHistory } from "./VersionHistory";

/** What a new mapping starts from: the identity, which sends the payload as received. */
export const NEW_PROGRAM = ".\n";

/** `/mappings/:eventType/:targetSystem`: edit, check, dry-run, publish, compare and retire. */
export function MappingEditor(props: {
  eventType: string;
  targetSystem: string;
}) {
  const { eventType, targetSystem } = props;
  usePageTitle(`Mapping ${eventType} → ${targetSystem}`);
  const canWrite = useCan("mappings:write");
  const id = useId();
  const editor = useRef<ProgramEditorHandle>(null);
  const [head, reexecuteHead] = useQuery({
    query: MAPPING_HEAD_QUERY,
    variables: { eventType, targetSystem },
  });
  const read: MappingFieldsFragment | null =
    head.data?.mappings.nodes[0] ?? null;
  // The last publish or retire answer, shown until the read model has it.
  const [answer, setAnswer] = useState<MappingFieldsFragment | null>(null);
  const latest = newestMapping(read, answer);
  const lagging = latest != null && latest !== read;

  // The editor starts from the latest version (or the identity for a new pair).
  const [program, setProgram] = useState<string | null>(null);
  if (program === null && head.data) setProgram(read?.program ?? NEW_PROGRAM);
  const text = program ?? "";

  const compile = useCompileCheck(text, program !== null);
  const [publishState, publish] = useMutation(PUBLISH_MAPPING);
  const [retireState, retire] = useMutation(RETIRE_MAPPING);
  const [published, setPublished] = useState<MappingFieldsFragment | null>(
    null,
  );
  const [confirmRetire, setConfirmRetire] = useState(false);
  const [refreshKey, setRefreshKey] = useState(0);
  // The publish error belongs to the text it was about; editing clears it.
  const [publishErrorFor, setPublishErrorFor] = useState<string | null>(null);

  useEffect(() => {
    if (refreshKey > 0) reexecuteHead({ requestPolicy: "network-only" });
  }, [refreshKey, reexecuteHead]);
  // Read again until the read model holds the answer (for 30 s at most).
  const [polls, setPolls] = useState(0);
  usePolling(
    () => {
      setPolls((p) => p + 1);
      setRefreshKey((k) => k + 1);
    },
    lagging && polls < 40 ? 750 : null,
  );

  const publishError =
    publishErrorFor === text ? publishState.error : undefined;
  const publishExt = errorExtensions(publishError);
  const publishPos = errorPosition(publishExt);
  const compileError = compile.status === "invalid" ? compile.error : null;
  const errorLine = compileError
    ? errorPosition(compileError).line
    : publishPos.line;
  const dirty = latest ? text !== latest.program : true;
  const publishBlocked = compile.status === "invalid" || text.trim() === "";

  const doPublish = async () => {
    setPublished(null);
    const res = await publish({
      input: { eventType, targetSystem, program: text },
    });
    setPublishErrorFor(text);
    if (res.data?.publishMapping) {
      setPublished(res.data.publishMapping);
      setAnswer(res.data.publishMapping);
      setPolls(0);
      setRefreshKey((k) => k + 1);
    }
  };

  if (head.fetching && !head.data)
    return <Loading label="Loading the mapping…" />;

  return (
    <>
      <p className="crumbs">
        <Link href="/mappings">← All mappings</Link>
      </p>
      <PageHeader
        title={`${eventType} → ${targetSystem}`}
        description={
          latest ? (
            <>
              Latest: <strong>v{latest.version}</strong>{" "}
              <MappingStateBadge mapping={latest} /> published{" "}
              <Time value={latest.publishedAt} />
            </>
          ) : head.data ? (
            "New mapping: nothing published for this pair yet."
          ) : null
        }
      >
        {canWrite && latest?.live ? (
          <button
            type="button"
            className="btn btn-danger"
            onClick={() => setConfirmRetire(true)}
            data-testid="retire-mapping"
          >
            Retire v{latest.version}
          </button>
        ) : null}
      </PageHeader>
      <ErrorNotice
        error={head.error}
        onRetry={() => reexecuteHead({ requestPolicy: "network-only" })}
      />
      {latest && !latest.live ? (
        <div className="notice notice-warning">
          <p>
            Retired <Time value={latest.retiredAt} />: {eventType} events go to
            no endpoint of {targetSystem} until a new version is published.
          </p>
        </div>
      ) : null}
      <ErrorNotice error={retireState.error} title="Not retired" />

      <div className="mapping-layout">
        <section
          className="card mapping-program"
          aria-labelledby={`${id}-program-title`}
        >
          <div className="program-head">
            <h2 id={`${id}-program-title`}>
              <label htmlFor={`${id}-program`}>jq program</label>
            </h2>
            {dirty && latest ? (
              <span className="badge badge-info" data-testid="mapping-dirty">
                edited
              </span>
            ) : null}
            {dirty && latest ? (
              <button
                type="button"
                className="btn btn-small"
                onClick={() => setProgram(latest.program)}
              >
                Revert to v{latest.version}
              </button>
            ) : null}
          </div>
          <ProgramEditor
            ref={editor}
            id={`${id}-program`}
            value={text}
            onChange={setProgram}
            errorLine={errorLine}
            invalid={compileError != null}
            describedBy={`${id}-compile`}
          />
          <CompileStatus
            id={`${id}-compile`}
            state={compile}
            onGoTo={(line, column) => editor.current?.goTo(line, column)}
          />
          {canWrite ? (
            <div className="publish-row">
              <button
                type="button"
                className="btn btn-primary"
                onClick={doPublish}
                disabled={publishBlocked || publishState.fetching}
                data-testid="publish-mapping"
                aria-describedby={`${id}-publish-note`}
              >
                {publishState.fetching
                  ? "Publishing…"
                  : `Publish as v${(latest?.version ?? 0) + 1}`}
              </button>
              <span id={`${id}-publish-note`} className="small muted">
                {compile.status === "invalid"
                  ? "Fix the compile error first."
                  : !dirty && latest
                    ? latest.live
                      ? `Same program as v${latest.version}.`
                      : `Publishing routes ${eventType} to ${targetSystem} again.`
                    : "Routes events of this type from its place in the log on."}
              </span>
            </div>
          ) : (
            <p className="small muted">
              Publishing needs the <code>mappings:write</code> scope; you can
              still check and dry-run programs.
            </p>
          )}
          {publishError ? (
            <div data-testid="publish-error">
              <ErrorNotice error={publishError} title="Not published" />
              {publishPos.line != null ? (
                <p className="small">
                  At{" "}
                  <button
                    type="button"
                    className="btn-link"
                    onClick={() =>
                      editor.current?.goTo(
                        publishPos.line ?? 1,
                        publishPos.column ?? 1,
                      )
                    }
                  >
                    line {publishPos.line}
                    {publishPos.column != null
                      ? `, column ${publishPos.column}`
                      : ""}
                  </button>
                </p>
              ) : null}
            </div>
          ) : null}
          {published ? (
            <div
              className="notice notice-success"
              role="status"
              data-testid="publish-success"
            >
              <p>
                Published <strong>v{published.version}</strong>: {eventType}{" "}
                events logged from now on go to {targetSystem} through it.
              </p>
            </div>
          ) : null}
        </section>

        <DryRunPanel program={text} eventType={eventType} />
      </div>

      <VersionHistory
        eventType={eventType}
        targetSystem={targetSystem}
        editorText={text}
        refreshKey={refreshKey}
        onLoad={(m) => {
          setProgram(m.program);
          editor.current?.goTo(1, 1);
        }}
      />

      <ConfirmDialog
        open={confirmRetire}
        title={`Retire v${latest?.version ?? ""}?`}
        confirmLabel="Retire"
        danger
        busy={retireState.fetching}
        testId="retire-dialog"
        onCancel={() => setConfirmRetire(false)}
        onConfirm={async () => {
          const res = await retire({ eventType, targetSystem });
          setConfirmRetire(false);
          if (res.data?.retireMapping) {
            setPublished(null);
            setAnswer(res.data.retireMapping);
            setPolls(0);
            setRefreshKey((k) => k + 1);
          }
        }}
      >
        <p>
          {eventType} events logged after this go to no endpoint of{" "}
          <strong>{targetSystem}</strong> until a new version is published.
          Events logged before keep the version they were routed with.
        </p>
      </ConfirmDialog>
    </>
  );
}

function CompileStatus(props: {
  id: string;
  state: CompileState;
  onGoTo: (line: number, column: number) => void;
}) {
  const s = props.state;
  if (s.status === "invalid") {
    const { line, column } = errorPosition(s.error);
    return (
      <div
        id={props.id}
        className="compile compile-error"
        role="status"
        data-testid="mapping-compile-error"
        data-line={line ?? undefined}
        data-column={column ?? undefined}
      >
        <span aria-hidden="true">✕ </span>
        <span>
          {line != null ? (
            <button
              type="button"
              className="btn-link compile-pos"
              onClick={() => props.onGoTo(line, column ?? 1)}
            >
              Line {line}
              {column != null ? `, column ${column}` : ""}
            </button>
          ) : null}
          {line != null ? ": " : ""}
          {s.error.message} <code className="error-code">{s.error.code}</code>
        </span>
      </div>
    );
  }
  let text: string;
  let cls = "compile";
  switch (s.status) {
    case "idle":
      text = "Write a jq program.";
      break;
    case "waiting":
    case "checking":
      text = "Checking…";
      cls += " compile-pending";
      break;
    case "ok":
      text = "✓ Compiles";
      cls += " compile-ok";
      break;
    case "failed":
      return (
        <div id={props.id} className="compile" role="status">
          <ErrorNotice
            error={{ code: s.code, message: s.message }}
            title="Could not check the program"
          />
        </div>
      );
  }
  return (
    <p
      id={props.id}
      className={cls}
      role="status"
      data-testid="mapping-compile-status"
      data-status={s.status}
    >
      {text}
    </p>
  );
}
