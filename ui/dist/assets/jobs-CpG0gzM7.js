import{n as e}from"./DataTable-m4pygmFg.js";import{a as t,b as n,c as r,d as i,f as a,m as o,p as s,s as c,t as l,x as u}from"./index-Bn8nF22H.js";import{t as d}from"./ConfirmDialog-BpgGBnSB.js";import{i as f,n as p,t as m}from"./Filters-Da09qOl2.js";import{t as h}from"./PagedTable-B6OCSR-b.js";import{r as g,t as _}from"./QueryResult-dmMmACm9.js";import{t as v}from"./ProgressBar-CshousVa.js";import{t as y}from"./StatusBadge-CMYsLP15.js";import{r as b,s as x,t as S,u as C}from"./Time-YVDqQVAt.js";import{n as w}from"./live-CTwRru9G.js";import{t as T}from"./JsonView-DXQbgUvr.js";var E=u(n(),1),D=t(`
  query SyncJobs(
    $filter: SyncJobFilter
    $first: Int
    $after: String
    $last: Int
    $before: String
  ) {
    syncJobs(
      filter: $filter
      first: $first
      after: $after
      last: $last
      before: $before
    ) {
      edges {
        node {
          id
          jobType
          status
          progressDone
          progressTotal
          error
          startedAt
          finishedAt
          createdAt
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
    }
  }
`),O=t(`
  query SyncJob($id: ID!) {
    syncJob(id: $id) {
      id
      jobType
      status
      parameters
      progressDone
      progressTotal
      error
      startedAt
      finishedAt
      createdAt
      updatedAt
    }
  }
`),k=t(`
  mutation RebuildReadModels {
    rebuildProjection(name: "read_models") {
      id
      status
    }
  }
`),A=t(`
  mutation VerifyLog {
    verifyLog {
      id
      status
    }
  }
`),j=[`dead_letter_replay`,`projection_rebuild`,`chain_verification`],M=[`PENDING`,`RUNNING`,`SUCCEEDED`,`FAILED`,`CANCELLED`],N={dead_letter_replay:`Dead-letter replay`,projection_rebuild:`Read-model rebuild`,chain_verification:`Log verification`};function P(e){return N[e]??e.replace(/_/g,` `)}function F(e){return e===`SUCCEEDED`||e===`FAILED`||e===`CANCELLED`}function I(e){return e.status===`SUCCEEDED`?Math.max(e.progressTotal??0,e.progressDone):e.progressTotal??null}function L(e){return M.includes(e??``)?e:void 0}var R=o(),z=1e3;function B(e){let[t,n]=r({query:O,variables:{id:e.id},requestPolicy:`network-only`}),i=t.data?.syncJob,o=i?F(i.status):!1;w(()=>n({requestPolicy:`network-only`}),o||t.error&&!i?null:z);let c=(0,E.useRef)(e.onFinished);(0,E.useEffect)(()=>{c.current=e.onFinished});let l=(0,E.useRef)(null);(0,E.useEffect)(()=>{o&&i&&l.current!==i.id&&(l.current=i.id,c.current())},[o,i]);let u=i?`${P(i.jobType)}`:`Sync job`;return(0,R.jsxs)(`section`,{className:`card job-follow`,"aria-labelledby":`job-follow-title`,"data-testid":`job-follow`,children:[(0,R.jsxs)(`div`,{className:`job-card-head`,children:[(0,R.jsxs)(`h2`,{id:`job-follow-title`,children:[u,` `,(0,R.jsx)(`span`,{className:`mono muted small`,children:e.id})]}),(0,R.jsx)(`button`,{type:`button`,className:`btn btn-small`,onClick:e.onClose,children:`Close`})]}),t.error&&!i?(0,R.jsx)(s,{error:t.error}):null,!i&&!t.error?(0,R.jsx)(a,{}):null,i?(0,R.jsxs)(R.Fragment,{children:[(0,R.jsxs)(`div`,{className:`job-follow-status`,children:[(0,R.jsx)(`span`,{"data-testid":`job-status`,"aria-live":`polite`,children:(0,R.jsx)(y,{status:i.status})}),o?null:(0,R.jsx)(`span`,{className:`muted small`,children:`following live`})]}),(0,R.jsx)(v,{done:i.progressDone,total:I(i),label:`Progress of ${u.toLowerCase()} ${i.id}`,testId:`job-progress`,tone:i.status===`FAILED`?`danger`:i.status===`SUCCEEDED`?`success`:`info`}),i.error?(0,R.jsx)(`div`,{className:`notice ${i.status===`FAILED`?`notice-error`:`notice-warning`}`,role:`alert`,"data-testid":`job-error`,children:(0,R.jsxs)(`p`,{children:[(0,R.jsx)(`strong`,{children:i.status===`FAILED`?`Failed: `:`Stopped: `}),i.error]})}):null,t.error?(0,R.jsx)(s,{error:t.error,title:`The last refresh failed`}):null,(0,R.jsxs)(`dl`,{className:`props`,children:[(0,R.jsx)(`dt`,{children:`Created`}),(0,R.jsx)(`dd`,{children:(0,R.jsx)(S,{value:i.createdAt})}),(0,R.jsx)(`dt`,{children:`Started`}),(0,R.jsx)(`dd`,{children:(0,R.jsx)(S,{value:i.startedAt,empty:`not yet`})}),(0,R.jsx)(`dt`,{children:`Finished`}),(0,R.jsxs)(`dd`,{children:[(0,R.jsx)(S,{value:i.finishedAt,empty:`not yet`}),i.startedAt&&i.finishedAt?` (took ${b(Date.parse(i.finishedAt)-Date.parse(i.startedAt))})`:null]}),(0,R.jsx)(`dt`,{children:`Parameters`}),(0,R.jsx)(`dd`,{children:(0,R.jsx)(T,{value:i.parameters,label:`Job parameters`})})]})]}):null]})}var V=3e3,H=e();function U(e){let[t,n]=f();return(0,R.jsx)(W,{params:t,setParams:n})}function W({params:e,setParams:t}){C(`Sync jobs`);let n=l(`jobs:write`,`audit:read`),a=L(e.status),o=e.type??``,u=e.job??null,f=g(20),b=(0,E.useMemo)(()=>({...f.vars,filter:{status:a??null,jobType:o||null}}),[f.vars,a,o]),[T,O]=r({query:D,variables:b}),N=(0,E.useCallback)(()=>O({requestPolicy:`network-only`}),[O]),z=(0,E.useMemo)(()=>T.data?.syncJobs.edges.map(e=>e.node)??[],[T.data]),U=z.some(e=>!F(e.status));w(N,U?V:null);let W=(0,E.useCallback)(e=>t({job:e}),[t]),[G,K]=(0,E.useState)(!1),[q,J]=c(k),[Y,X]=c(A),Z=async()=>{let e=await J({});K(!1),e.data&&(W(e.data.rebuildProjection.id),N())},Q=async()=>{let e=await X({});e.data&&(W(e.data.verifyLog.id),N())},$=(0,E.useMemo)(()=>[H.accessor(`jobType`,{header:`Job`,cell:e=>(0,R.jsxs)(R.Fragment,{children:[P(e.getValue()),(0,R.jsx)(`div`,{className:`mono muted small`,children:e.row.original.id})]})}),H.accessor(`status`,{header:`Status`,cell:e=>(0,R.jsx)(y,{status:e.getValue()})}),H.display({id:`progress`,header:`Progress`,cell:e=>{let t=e.row.original;return(0,R.jsx)(v,{done:t.progressDone,total:I(t),label:`Progress of job ${t.id}`,tone:t.status===`FAILED`?`danger`:t.status===`SUCCEEDED`?`success`:`info`})}}),H.accessor(`createdAt`,{header:`Created`,cell:e=>(0,R.jsx)(S,{value:e.getValue()})}),H.accessor(`finishedAt`,{header:`Finished`,cell:e=>(0,R.jsx)(S,{value:e.getValue(),empty:`—`})}),H.display({id:`actions`,header:()=>(0,R.jsx)(`span`,{className:`visually-hidden`,children:`Actions`}),cell:e=>{let t=e.row.original,n=u===t.id;return(0,R.jsx)(`button`,{type:`button`,className:`btn btn-small`,"aria-pressed":n,"aria-label":`${n?`Showing`:`Show`} job ${t.id}`,onClick:()=>W(n?null:t.id),children:n?`Showing`:F(t.status)?`Details`:`Follow`})}})],[u,W]);return(0,R.jsxs)(R.Fragment,{children:[(0,R.jsxs)(i,{title:`Sync jobs`,description:`Replays, read-model rebuilds and log verifications, newest first.`,children:[(0,R.jsx)(`button`,{type:`button`,className:`btn btn-primary`,onClick:()=>K(!0),"data-testid":`rebuild-button`,children:`Rebuild read models`}),n?(0,R.jsx)(`button`,{type:`button`,className:`btn`,onClick:Q,disabled:Y.fetching,"data-testid":`verify-log-button`,children:Y.fetching?`Starting…`:`Verify whole log`}):null]}),(0,R.jsx)(s,{error:q.error,title:`The rebuild did not start`}),(0,R.jsx)(s,{error:Y.error,title:`The verification did not start`}),u?(0,R.jsx)(B,{id:u,onClose:()=>W(null),onFinished:N},u):null,(0,R.jsxs)(`section`,{"aria-labelledby":`jobs-list`,className:`section`,children:[(0,R.jsx)(`h2`,{id:`jobs-list`,className:`visually-hidden`,children:`All jobs`}),(0,R.jsxs)(m,{children:[(0,R.jsx)(p,{label:`Status`,value:a??``,options:M.map(e=>({value:e,label:x(e)})),onChange:e=>{f.reset(),t({status:e})},testId:`status-filter`}),(0,R.jsx)(p,{label:`Type`,value:o,options:j.map(e=>({value:e,label:P(e)})),onChange:e=>{f.reset(),t({type:e})},testId:`type-filter`})]}),(0,R.jsx)(_,{result:T,onRetry:N,children:e=>(0,R.jsx)(h,{columns:$,data:z,getRowId:e=>e.id,caption:`Sync jobs`,rowTestId:`job-row`,rowClassName:e=>e.id===u?`row-selected`:void 0,empty:a||o?`No job matches these filters.`:`No sync job has run yet.`,pager:f,pageInfo:e.syncJobs.pageInfo,pagerLabel:`Sync job pages`})})]}),(0,R.jsx)(d,{open:G,title:`Rebuild the read models?`,confirmLabel:`Rebuild`,busy:q.fetching,onConfirm:Z,onCancel:()=>K(!1),children:(0,R.jsx)(`p`,{children:`Every read model is rebuilt from the whole log into shadow tables, then swapped in at once (blue/green). Reads keep answering from the current tables meanwhile; on a large log this takes a while.`})})]})}export{U as default};