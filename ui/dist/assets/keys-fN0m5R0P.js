import{n as e}from"./DataTable-m4pygmFg.js";import{a as t,b as n,c as r,d as i,l as a,m as o,n as s,p as c,s as l,u,x as d}from"./index-Bn8nF22H.js";import{t as f}from"./ConfirmDialog-BpgGBnSB.js";import{t as p}from"./CopyButton-hI3WVST0.js";import{i as m,n as h,t as g}from"./Filters-Da09qOl2.js";import{t as _}from"./PagedTable-B6OCSR-b.js";import{r as v,t as y}from"./QueryResult-dmMmACm9.js";import{t as b}from"./StatusBadge-CMYsLP15.js";import{a as x,t as S,u as C}from"./Time-YVDqQVAt.js";import{t as w}from"./FormActions-BPQppHw3.js";var T=d(n(),1);function E(e){let t=e.name.trim();if(t.length===0)return{ok:!1,field:`name`,message:`Give the key a name.`};if(t.length>100)return{ok:!1,field:`name`,message:`A name has at most 100 characters.`};if(e.permissions.length===0)return{ok:!1,field:`permissions`,message:`Choose at least one permission.`};let n=null,r=e.rateLimit.trim();if(r!==``){let e=Number(r);if(!Number.isInteger(e)||e<1)return{ok:!1,field:`rateLimit`,message:`The rate limit is a whole number of requests per minute, at least 1.`};n=e}return{ok:!0,input:{name:t,permissions:e.permissions.includes(`admin`)?[`admin`]:a.filter(t=>e.permissions.includes(t)),rateLimitPerMinute:n}}}var D={"keys:admin":`issue, list and revoke API keys`,"endpoints:read":`read endpoints`,"endpoints:write":`register, change, disable and delete endpoints`,"events:read":`read events`,"events:write":`post events`,"deliveries:read":`read deliveries, the retry queue and dead letters`,"deliveries:write":`requeue deliveries, replay dead letters`,"mappings:read":`read mappings`,"mappings:write":`publish and retire mappings`,"jobs:write":`run and follow sync jobs, manage subscriptions`,"audit:read":`read the log, history and chain verification`,admin:`every scope, including granting admin`},O=t(`
  query ApiKeys(
    $filter: ApiKeyFilter
    $first: Int
    $after: String
    $last: Int
    $before: String
  ) {
    apiKeys(
      filter: $filter
      first: $first
      after: $after
      last: $last
      before: $before
    ) {
      edges {
        node {
          id
          name
          prefix
          permissions
          status
          rateLimitPerMinute
          lastUsedAt
          createdAt
          revokedAt
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
`),k=t(`
  mutation IssueApiKey($input: IssueApiKeyInput!) {
    issueApiKey(input: $input) {
      key
      apiKey {
        id
        name
        prefix
        permissions
        status
        rateLimitPerMinute
        createdAt
      }
    }
  }
`),A=t(`
  mutation RevokeApiKey($id: ID!, $reason: String) {
    revokeApiKey(id: $id, reason: $reason) {
      id
      status
      revokedAt
    }
  }
`),j=o();function M(e){let{viewer:t}=s(),[n,r]=(0,T.useState)(``),[i,o]=(0,T.useState)([]),[c,d]=(0,T.useState)(``),[f,p]=(0,T.useState)(null),[m,h]=l(k),g={name:(0,T.useId)(),rate:(0,T.useId)(),perms:(0,T.useId)(),error:(0,T.useId)()},_=i.includes(`admin`),v=(e,t)=>o(n=>t?[...n,e]:n.filter(t=>t!==e)),y=async t=>{t.preventDefault();let r=E({name:n,permissions:i,rateLimit:c});if(!r.ok){p(r);return}p(null);let a=await h({input:r.input});if(a.data){let{key:t,apiKey:n}=a.data.issueApiKey;e.onIssued({key:t,name:n.name,prefix:n.prefix})}},b=e=>f?.field===e?(0,j.jsx)(`p`,{className:`field-error`,id:g.error,role:`alert`,children:f.message}):null;return(0,j.jsxs)(`form`,{className:`card form issue-form`,onSubmit:y,noValidate:!0,"aria-labelledby":`issue-title`,children:[(0,j.jsx)(`h2`,{id:`issue-title`,children:`Issue an API key`}),(0,j.jsxs)(`div`,{className:`field`,children:[(0,j.jsx)(`label`,{htmlFor:g.name,children:`Name`}),(0,j.jsx)(`input`,{id:g.name,value:n,maxLength:100,onChange:e=>r(e.target.value),"aria-invalid":f?.field===`name`,"aria-describedby":f?.field===`name`?g.error:void 0,"data-testid":`key-name-input`,autoFocus:!0}),b(`name`)]}),(0,j.jsxs)(`fieldset`,{className:`field scopes`,"aria-describedby":f?.field===`permissions`?g.error:void 0,children:[(0,j.jsx)(`legend`,{children:`Permissions`}),(0,j.jsx)(`div`,{className:`scope-grid`,children:a.map(e=>{let n=u(t.permissions,e),r=_&&e!==`admin`;return(0,j.jsxs)(`label`,{className:`checkbox scope${n?``:` scope-disabled`}`,children:[(0,j.jsx)(`input`,{type:`checkbox`,value:e,checked:i.includes(e)||r,disabled:!n||r,onChange:t=>v(e,t.target.checked),"data-testid":`scope-${e}`}),(0,j.jsxs)(`span`,{children:[(0,j.jsx)(`code`,{children:e}),(0,j.jsx)(`span`,{className:`muted small scope-hint`,children:n?D[e]:`your key cannot grant this`})]})]},e)})}),b(`permissions`)]}),(0,j.jsxs)(`div`,{className:`field rate-field`,children:[(0,j.jsx)(`label`,{htmlFor:g.rate,children:`Rate limit (requests per minute)`}),(0,j.jsx)(`input`,{id:g.rate,type:`number`,min:1,step:1,inputMode:`numeric`,placeholder:`service default`,value:c,onChange:e=>d(e.target.value),"aria-invalid":f?.field===`rateLimit`,"aria-describedby":f?.field===`rateLimit`?g.error:void 0,"data-testid":`key-rate-input`}),b(`rateLimit`)]}),(0,j.jsx)(w,{error:m.error,errorTitle:`The key was not issued`,busy:m.fetching,submitLabel:`Issue key`,busyLabel:`Issuing…`,submitTestId:`issue-key-submit`,onCancel:e.onCancel})]})}var N=[`ACTIVE`,`REVOKED`],P=e();function F(e){let[t,n]=m();return(0,j.jsx)(I,{params:t,setParams:n})}function I({params:e,setParams:t}){C(`API keys`);let{viewer:n}=s(),a=N.find(t=>t===e.status),o=v(20),c=(0,T.useMemo)(()=>({...o.vars,filter:{status:a??null}}),[o.vars,a]),[l,u]=r({query:O,variables:c}),d=(0,T.useCallback)(()=>u({requestPolicy:`network-only`}),[u]),f=(0,T.useMemo)(()=>l.data?.apiKeys.edges.map(e=>e.node)??[],[l.data]),[p,m]=(0,T.useState)(!1),[w,E]=(0,T.useState)(null),[D,k]=(0,T.useState)(null),A=(0,T.useMemo)(()=>[P.accessor(`name`,{header:`Name`,cell:e=>(0,j.jsxs)(j.Fragment,{children:[(0,j.jsx)(`strong`,{children:e.getValue()}),e.row.original.id===n.id?(0,j.jsx)(`span`,{className:`badge badge-info you`,children:`you`}):null,(0,j.jsxs)(`div`,{className:`mono muted small`,children:[e.row.original.prefix,`…`]})]})}),P.accessor(`status`,{header:`Status`,cell:e=>(0,j.jsx)(b,{status:e.getValue()})}),P.accessor(`permissions`,{header:`Permissions`,cell:e=>(0,j.jsx)(`ul`,{className:`chips`,"aria-label":`Permissions`,children:e.getValue().map(e=>(0,j.jsx)(`li`,{className:`chip`,children:e},e))})}),P.accessor(`rateLimitPerMinute`,{header:`Rate limit`,cell:e=>{let t=e.getValue();return t==null?(0,j.jsx)(`span`,{className:`muted`,children:`default`}):`${x(t)}/min`}}),P.accessor(`lastUsedAt`,{header:`Last used`,cell:e=>(0,j.jsx)(S,{value:e.getValue(),relative:!0,empty:`never`})}),P.accessor(`createdAt`,{header:`Issued`,cell:e=>(0,j.jsx)(S,{value:e.getValue()})}),P.display({id:`actions`,header:()=>(0,j.jsx)(`span`,{className:`visually-hidden`,children:`Actions`}),cell:e=>{let t=e.row.original;return t.status===`REVOKED`?(0,j.jsxs)(`span`,{className:`muted small`,children:[`revoked `,(0,j.jsx)(S,{value:t.revokedAt})]}):(0,j.jsx)(`button`,{type:`button`,className:`btn btn-small`,"aria-label":`Revoke ${t.name}`,onClick:()=>k(t),"data-testid":`revoke-key`,children:`Revoke`})}})],[n.id]);return(0,j.jsxs)(j.Fragment,{children:[(0,j.jsx)(i,{title:`API keys`,description:`Keys are shown once, when issued; only their prefix is kept.`,children:p?null:(0,j.jsx)(`button`,{type:`button`,className:`btn btn-primary`,onClick:()=>{E(null),m(!0)},"data-testid":`issue-key`,children:`Issue API key`})}),w?(0,j.jsx)(L,{issued:w,onDone:()=>E(null)}):null,p?(0,j.jsx)(M,{onCancel:()=>m(!1),onIssued:e=>{m(!1),E(e),d()}}):null,(0,j.jsxs)(`section`,{className:`section`,"aria-labelledby":`keys-list`,children:[(0,j.jsx)(`h2`,{id:`keys-list`,className:`visually-hidden`,children:`All keys`}),(0,j.jsx)(g,{children:(0,j.jsx)(h,{label:`Status`,value:a??``,options:[{value:`ACTIVE`,label:`Active`},{value:`REVOKED`,label:`Revoked`}],onChange:e=>{o.reset(),t({status:e})},testId:`key-status-filter`})}),(0,j.jsx)(y,{result:l,onRetry:d,children:e=>(0,j.jsx)(_,{columns:A,data:f,getRowId:e=>e.id,caption:`API keys`,rowTestId:`key-row`,empty:a?`No key has this status.`:`No API keys.`,pager:o,pageInfo:e.apiKeys.pageInfo,pagerLabel:`API key pages`})})]}),D?(0,j.jsx)(R,{apiKey:D,isSelf:D.id===n.id,onClose:()=>k(null),onRevoked:()=>{k(null),d()}}):null]})}function L(e){return(0,j.jsx)(`section`,{className:`notice notice-warning new-key`,"aria-labelledby":`new-key-title`,"data-testid":`new-key-panel`,children:(0,j.jsxs)(`div`,{className:`new-key-body`,children:[(0,j.jsxs)(`h2`,{id:`new-key-title`,children:[`Key “`,e.issued.name,`” issued`]}),(0,j.jsxs)(`p`,{role:`alert`,children:[(0,j.jsx)(`strong`,{children:`Copy it now: it is never shown again.`}),` Only its prefix`,` `,(0,j.jsx)(`code`,{children:e.issued.prefix}),` is kept to recognise it by.`]}),(0,j.jsxs)(`div`,{className:`secret`,children:[(0,j.jsx)(`code`,{"data-testid":`new-key`,children:e.issued.key}),(0,j.jsx)(p,{text:e.issued.key,label:`Copy key`,testId:`copy-key`})]}),(0,j.jsx)(`div`,{className:`form-actions`,children:(0,j.jsx)(`button`,{type:`button`,className:`btn`,onClick:e.onDone,children:`I have stored it`})})]})})}function R(e){let[t,n]=(0,T.useState)(``),[r,i]=l(A),a=(0,T.useId)();return(0,j.jsxs)(f,{open:!0,title:`Revoke “${e.apiKey.name}”?`,confirmLabel:`Revoke`,danger:!0,busy:r.fetching,confirmDisabled:t.trim()===``,onConfirm:async()=>{(await i({id:e.apiKey.id,reason:t.trim()})).data&&e.onRevoked()},onCancel:e.onClose,testId:`revoke-dialog`,children:[(0,j.jsxs)(`p`,{children:[`The key `,(0,j.jsxs)(`code`,{children:[e.apiKey.prefix,`…`]}),` stops authenticating at once, for good.`]}),e.isSelf?(0,j.jsx)(`p`,{className:`notice notice-warning`,children:`This is the key you are signed in with: you will be signed out.`}):null,(0,j.jsxs)(`div`,{className:`field`,children:[(0,j.jsx)(`label`,{htmlFor:a,children:`Reason (recorded in the audit log)`}),(0,j.jsx)(`textarea`,{id:a,rows:3,value:t,onChange:e=>n(e.target.value),required:!0,"data-testid":`revoke-reason`})]}),(0,j.jsx)(c,{error:r.error,title:`The key was not revoked`})]})}export{F as default};