import{_ as e,a as t,b as n,c as r,f as i,g as a,m as o,p as s,s as c,t as l,x as u}from"./index-Bn8nF22H.js";import{r as d,t as f}from"./Time-YVDqQVAt.js";import{c as p,d as ee,n as m,r as h,s as g,t as _}from"./Filters-Da09qOl2.js";import{t as v}from"./useLosslessContext-ClSsBDxw.js";var y=u(n(),1),b=o();function te(e){let{fields:t,values:n}=e,[r,i]=(0,y.useState)(()=>{let e={};for(let r of t){let t=n[r.key]??``;e[r.key]=r.input===`datetime`&&t?ee(t):t}return e}),[a,o]=(0,y.useState)(null),s=(e,t)=>i(n=>({...n,[e]:t})),c=n=>{n.preventDefault();let i={};for(let e of t){let t=(r[e.key]??``).trim();if(t){if(e.input===`datetime`){let n=p(t);if(!n){o(`${e.label}: not a valid date and time`);return}i[e.key]=n}else i[e.key]=t}}o(null),e.onApply(i)},l=g(n);return(0,b.jsxs)(`form`,{onSubmit:c,className:`filter-form`,role:`search`,"aria-label":e.label,children:[(0,b.jsxs)(_,{children:[t.map(t=>{let n=`${e.testIdPrefix}-${t.key}`;switch(t.input){case`select`:return(0,b.jsx)(m,{label:t.label,value:r[t.key]??``,options:t.options,anyLabel:t.anyLabel,testId:n,onChange:e=>s(t.key,e)},t.key);case`datetime`:return(0,b.jsx)(h,{label:`${t.label} (local)`,type:`datetime-local`,value:r[t.key]??``,testId:n,onChange:e=>s(t.key,e)},t.key);default:return(0,b.jsx)(h,{label:t.label,type:t.input===`number`?`number`:`text`,value:r[t.key]??``,placeholder:t.placeholder,testId:n,onChange:e=>s(t.key,e)},t.key)}}),(0,b.jsxs)(`div`,{className:`filter-actions`,children:[(0,b.jsx)(`button`,{type:`submit`,className:`btn btn-primary`,"data-testid":`${e.testIdPrefix}-apply`,children:`Apply`}),l>0?(0,b.jsxs)(`button`,{type:`button`,className:`btn`,"data-testid":`${e.testIdPrefix}-clear`,onClick:()=>e.onApply({}),children:[`Clear (`,l,`)`]}):null]})]}),a?(0,b.jsx)(`p`,{className:`notice notice-warning`,role:`alert`,children:a}):null]})}t(`
  fragment DeliveryWithAttempts on Delivery {
    id
    eventId
    endpointId
    status
    attemptCount
    lastAttemptAt
    responseCode
    lastError
    mappingId
    mappingVersion
    nextAttemptAt
    eventCreatedAt
    createdAt
    updatedAt
    attempts {
      number
      outcome
      statusCode
      retryAfterSecs
      message
      durationMs
      responseExcerpt
      attemptedAt
      sequence
    }
  }
`);var ne=t(`
  query DeliveriesPage(
    $filter: DeliveryFilter
    $first: Int
    $after: String
    $last: Int
    $before: String
  ) {
    deliveries(
      filter: $filter
      first: $first
      after: $after
      last: $last
      before: $before
    ) {
      edges {
        cursor
        node {
          id
          eventId
          endpointId
          status
          attemptCount
          lastAttemptAt
          responseCode
          lastError
          nextAttemptAt
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
`),x=t(`
  query RetryQueuePage(
    $filter: RetryQueueFilter
    $first: Int
    $after: String
    $last: Int
    $before: String
  ) {
    retryQueue(
      filter: $filter
      first: $first
      after: $after
      last: $last
      before: $before
    ) {
      edges {
        cursor
        node {
          id
          eventId
          endpointId
          nextRetryAt
          attempts
          leasedUntil
          leasedBy
          eventCreatedAt
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
`),S=t(`
  query DeadLettersPage(
    $filter: DeadLetterFilter
    $first: Int
    $after: String
    $last: Int
    $before: String
  ) {
    deadLetters(
      filter: $filter
      first: $first
      after: $after
      last: $last
      before: $before
    ) {
      edges {
        cursor
        node {
          id
          eventId
          deliveryId
          endpointId
          reason
          createdAt
          requeuedAt
          eventCreatedAt
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
`),C=t(`
  query DeliveryDetail($id: ID!) {
    delivery(id: $id) {
      ...DeliveryWithAttempts
    }
  }
`),w=t(`
  query DeliveryDeadLetters($eventId: ID!) {
    deadLetters(filter: { eventId: $eventId }, first: 100) {
      nodes {
        id
        deliveryId
        reason
        createdAt
        requeuedAt
      }
    }
  }
`),T=t(`
  query EndpointNames {
    endpoints(first: 100) {
      nodes {
        id
        systemName
        url
        status
      }
      pageInfo {
        hasNextPage
      }
    }
  }
`),E=t(`
  mutation RequeueDelivery($id: ID!, $reason: String) {
    requeueDelivery(id: $id, reason: $reason) {
      deliveryId
      webhookId
      dueAt
    }
  }
`),D=t(`
  mutation ReplayDeadLetters($filter: ReplayDeadLettersInput) {
    replayDeadLetters(filter: $filter) {
      id
      jobType
      status
      progressDone
      progressTotal
    }
  }
`),O=t(`
  query ReplayJob($id: ID!) {
    syncJob(id: $id) {
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
`),k=new Map;function A(){let e=l(`endpoints:read`),[{data:t}]=r({query:T,pause:!e,requestPolicy:`cache-first`});return(0,y.useMemo)(()=>t?new Map(t.endpoints.nodes.map(e=>[e.id,{systemName:e.systemName,url:e.url,status:e.status}])):k,[t])}function j(e){let t=l(`endpoints:read`),n=e.names.get(e.id),r=`/endpoints/${e.id}`;return t?n?(0,b.jsxs)(a,{href:r,title:`${n.url} (endpoint ${e.id})`,children:[n.systemName,(0,b.jsxs)(`span`,{className:`muted mono dl-id-tail nowrap`,children:[` `,`…`,e.id.slice(-6)]})]}):(0,b.jsx)(a,{href:r,className:`mono`,children:e.id}):(0,b.jsx)(`span`,{className:`mono`,children:e.id})}function M(e){return(0,b.jsxs)(a,{href:e.href,className:`mono`,title:e.id,"aria-label":`${e.kind} ${e.id}`,"data-testid":e.testId,children:[`…`,e.id.slice(-8)]})}function N(e,t,n){if(t.size===0)return{key:e,label:`Endpoint id`,input:`text`};let r=[...t].map(([e,t])=>({value:e,label:`${t.systemName} …${e.slice(-6)}${t.status===`ACTIVE`?``:` (${t.status.toLowerCase()})`}`})).sort((e,t)=>e.label.localeCompare(t.label));return n&&!t.has(n)&&r.unshift({value:n,label:n}),{key:e,label:`Endpoint`,input:`select`,options:r}}var P=[`PENDING`,`RETRYING`,`SUCCEEDED`,`DEAD_LETTERED`,`CANCELLED`];function F(e){return e===`DEAD_LETTERED`||e===`CANCELLED`}function I(e){return e===`PENDING`||e===`RETRYING`}function re(e){return e.toLowerCase()}function L(e){switch(e.outcome){case`RESPONSE`:{let t=e.statusCode;if(t==null)return{label:`Response`,tone:`neutral`};let n=t>=200&&t<300;return{label:`HTTP ${t}${e.retryAfterSecs==null?``:`, retry after ${e.retryAfterSecs} s`}`,tone:n?`success`:t===429||t>=500?`warning`:`danger`}}case`TIMEOUT`:return{label:`Timed out`,tone:`warning`};case`CONNECTION_ERROR`:return{label:`Connection error`,tone:`warning`};case`MAPPING_ERROR`:return{label:`Mapping error (nothing sent)`,tone:`danger`};default:return{label:String(e.outcome),tone:`neutral`}}}function R(e,t){if(!e||!t)return null;let n=Date.parse(e),r=Date.parse(t);return Number.isNaN(n)||Number.isNaN(r)?null:r-n}var z={status:{kind:`enum`,values:P},endpointId:{kind:`id`},eventId:{kind:`id`},eventType:{kind:`text`},system:{kind:`text`},responseCode:{kind:`int`,min:100,max:599},from:{kind:`datetime`},to:{kind:`datetime`}},B={endpointId:{kind:`id`},dueBefore:{kind:`datetime`}},V={endpointId:{kind:`id`},eventId:{kind:`id`},eventType:{kind:`text`},requeued:{kind:`bool`},from:{kind:`datetime`},to:{kind:`datetime`}};function H(e){let t={};return e.endpointId&&(t.endpointId=e.endpointId),e.eventType&&(t.eventType=e.eventType),e.from&&(t.from=e.from),e.to&&(t.to=e.to),{input:t,unsupported:e.eventId?[`eventId`]:[]}}function U(e){return e===`SUCCEEDED`||e===`FAILED`||e===`CANCELLED`}function W(e,t){return e.length-t.length||(e<t?-1:+(e>t))}function G(e){return[...e].sort((e,t)=>Date.parse(e.createdAt)-Date.parse(t.createdAt)||W(e.id,t.id))}function K(e){let t=l(`deliveries:write`),[n,r]=c(E),[i,a]=(0,y.useState)(null);return t?i?(0,b.jsxs)(`span`,{className:`requeued-note`,role:`status`,children:[`Requeued`,i.dueAt?(0,b.jsxs)(b.Fragment,{children:[`, due `,(0,b.jsx)(f,{value:i.dueAt,relative:!0})]}):null]}):(0,b.jsxs)(`span`,{className:`requeue`,children:[(0,b.jsx)(`button`,{type:`button`,className:`btn${e.small?` btn-small`:``}`,"data-testid":`requeue-${e.deliveryId}`,disabled:n.fetching,"aria-label":`Requeue delivery ${e.deliveryId}`,onClick:async()=>{let t=await r({id:e.deliveryId,reason:`requeued from the console`},{additionalTypenames:[`Delivery`,`DeadLetter`]});t.data&&(a({dueAt:t.data.requeueDelivery.dueAt??null}),e.onRequeued?.())},children:n.fetching?`Requeueing…`:`Requeue`}),n.error?(0,b.jsx)(s,{error:n.error}):null]}):null}function q(t){let[,n]=e();return e=>{let r=e.target;if(r.closest(`a, button, input, select, textarea, summary, label`)||window.getSelection()?.toString())return;let i=r.closest(`tr[data-row-id]`)?.getAttribute(`data-row-id`);if(!i)return;let a=typeof t==`string`?`${t}/${i}`:t(i);a&&n(a)}}var J=t(`
  query EventsPage(
    $filter: EventFilter
    $first: Int
    $after: String
    $last: Int
    $before: String
  ) {
    events(
      filter: $filter
      first: $first
      after: $after
      last: $last
      before: $before
    ) {
      edges {
        cursor
        node {
          id
          eventType
          sourceSystem
          eventKey
          channel
          status
          createdAt
          updatedAt
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
`),Y=t(`
  query EventDetail($id: ID!, $withDeliveries: Boolean!) {
    event(id: $id) {
      id
      eventType
      sourceSystem
      eventKey
      channel
      status
      payload
      createdAt
      updatedAt
      deliveries @include(if: $withDeliveries) {
        ...DeliveryWithAttempts
      }
    }
  }
`),X=t(`
  query EventStream($aggregateId: String!) {
    history(aggregateType: INTEGRATION_EVENT, aggregateId: $aggregateId) {
      sequence
      eventType
      payload
      metadata
      recordedAt
    }
  }
`);function Z(e){return typeof e==`object`&&e&&!Array.isArray(e)?e:{}}function Q(e){return typeof e==`number`||typeof e==`string`?String(e):``}function ie(e){let t=Z(e.payload);return Z(t[e.eventType]??t)}function ae(e){let t=[...e].sort((e,t)=>e.sequence-t.sequence).find(e=>e.eventType===`EventRouted`||e.eventType===`EventUnroutable`);if(!t)return{kind:`pending`};let n=ie(t),r=typeof n.routed_at==`string`?n.routed_at:null,i=Z(t.metadata).actor,a=typeof i==`string`?i:null;if(t.eventType===`EventUnroutable`)return{kind:`unroutable`,routedAt:r,recordedAt:t.recordedAt,actor:a};let o=(Array.isArray(n.deliveries)?n.deliveries:[]).map(e=>{let t=Z(e),n=Number(t.mapping_version);return{deliveryId:Q(t.delivery_id),endpointId:Q(t.endpoint_id),mappingId:Q(t.mapping_id),mappingVersion:Number.isFinite(n)?n:null}});return{kind:`routed`,routedAt:r,recordedAt:t.recordedAt,actor:a,deliveries:o}}function $(e,t){return`/audit?${new URLSearchParams({type:e,id:t}).toString()}`}function oe(e){let t=`${e.sourceSystem}:${e.eventKey}`,n=v(),[{data:o,fetching:c,error:l},u]=r({query:X,variables:{aggregateId:t},context:n}),d=(0,y.useMemo)(()=>o?ae(o.history):null,[o]),p=d?.kind===`pending`;return(0,y.useEffect)(()=>{p&&e.refreshKey>0&&u({requestPolicy:`network-only`})},[p,e.refreshKey,u]),(0,b.jsxs)(`section`,{className:`card`,"aria-labelledby":`routing-title`,"data-testid":`routing-decision`,children:[(0,b.jsxs)(`div`,{className:`section-head`,children:[(0,b.jsx)(`h2`,{id:`routing-title`,children:`Routing decision`}),(0,b.jsx)(a,{href:$(`IntegrationEvent`,t),className:`btn btn-small`,children:`Event stream in the audit log`})]}),l?(0,b.jsx)(s,{error:l}):null,!o&&c?(0,b.jsx)(i,{label:`Reading the event's stream…`}):null,d?.kind===`pending`?(0,b.jsx)(`p`,{className:`muted`,"data-testid":`routing-pending`,children:`Not routed yet: the router has not reached this event.`}):null,d?.kind===`unroutable`?(0,b.jsxs)(`p`,{"data-testid":`routing-unroutable`,children:[(0,b.jsx)(`strong`,{children:`Unroutable`}),`: no endpoint was subscribed to`,` `,(0,b.jsx)(`code`,{children:e.eventType}),` when the router reached it (`,(0,b.jsx)(f,{value:d.routedAt??d.recordedAt}),`). Publish a mapping for a target system with an endpoint to route later events of this type.`]}):null,d?.kind===`routed`?(0,b.jsxs)(b.Fragment,{children:[(0,b.jsxs)(`p`,{children:[`Routed to `,d.deliveries.length,` `,d.deliveries.length===1?`endpoint`:`endpoints`,` at`,` `,(0,b.jsx)(f,{value:d.routedAt??d.recordedAt}),d.actor?(0,b.jsxs)(`span`,{className:`muted`,children:[` (by `,d.actor,`)`]}):null,`, each with the mapping version live at the event's place in the log.`]}),(0,b.jsx)(`div`,{className:`table-wrap`,children:(0,b.jsxs)(`table`,{className:`table table-stack`,"data-testid":`routing-table`,children:[(0,b.jsx)(`caption`,{className:`visually-hidden`,children:`Routed deliveries`}),(0,b.jsx)(`thead`,{children:(0,b.jsxs)(`tr`,{children:[(0,b.jsx)(`th`,{scope:`col`,children:`Endpoint`}),(0,b.jsx)(`th`,{scope:`col`,children:`Mapping`}),(0,b.jsx)(`th`,{scope:`col`,children:`Delivery`})]})}),(0,b.jsx)(`tbody`,{children:d.deliveries.map(t=>{let n=e.names.get(t.endpointId)?.systemName;return(0,b.jsxs)(`tr`,{"data-testid":`routed-delivery`,children:[(0,b.jsx)(`td`,{"data-label":`Endpoint`,children:(0,b.jsx)(j,{id:t.endpointId,names:e.names})}),(0,b.jsx)(`td`,{"data-label":`Mapping`,children:n?(0,b.jsxs)(a,{href:`/mappings/${encodeURIComponent(e.eventType)}/${encodeURIComponent(n)}`,title:`mapping version id ${t.mappingId}`,children:[`v`,t.mappingVersion??`?`]}):(0,b.jsxs)(`span`,{title:`mapping version id ${t.mappingId}`,children:[`v`,t.mappingVersion??`?`]})}),(0,b.jsx)(`td`,{"data-label":`Delivery`,children:(0,b.jsx)(M,{href:`/deliveries/${t.deliveryId}`,id:t.deliveryId,kind:`Delivery`})})]},t.deliveryId||t.endpointId)})})]})})]}):null]})}function se(e){let t=[...e.attempts].sort((e,t)=>e.number-t.number);return(0,b.jsxs)(`ol`,{className:`timeline`,"aria-label":`Attempts`,children:[(0,b.jsxs)(`li`,{className:`timeline-item timeline-neutral`,children:[(0,b.jsx)(`span`,{className:`timeline-dot`,"aria-hidden":`true`}),(0,b.jsxs)(`div`,{className:`timeline-body`,children:[(0,b.jsx)(`span`,{className:`timeline-title`,children:`Scheduled`}),` `,(0,b.jsx)(f,{value:e.createdAt})]})]}),t.map((n,r)=>{let{label:i,tone:a}=L(n),o=R(r===0?e.createdAt:t[r-1].attemptedAt,n.attemptedAt);return(0,b.jsxs)(`li`,{className:`timeline-item timeline-${a}`,"data-testid":`attempt`,"data-outcome":n.outcome.toLowerCase(),children:[(0,b.jsx)(`span`,{className:`timeline-dot`,"aria-hidden":`true`}),(0,b.jsxs)(`div`,{className:`timeline-body`,children:[(0,b.jsxs)(`div`,{className:`timeline-head`,children:[(0,b.jsxs)(`span`,{className:`timeline-title`,children:[`Attempt `,n.number]}),(0,b.jsx)(`span`,{className:`badge badge-${a}`,children:i}),(0,b.jsx)(`span`,{className:`muted`,children:d(n.durationMs)}),(0,b.jsx)(f,{value:n.attemptedAt}),o!=null&&o>=0?(0,b.jsxs)(`span`,{className:`muted timeline-gap`,title:r===0?`since the delivery was scheduled`:`since the previous attempt`,children:[`+`,d(o)]}):null]}),n.message?(0,b.jsx)(`p`,{className:`timeline-message`,children:n.message}):null,n.responseExcerpt?(0,b.jsxs)(`details`,{className:`timeline-excerpt`,children:[(0,b.jsxs)(`summary`,{children:[`Response (`,n.responseExcerpt.length,` chars)`]}),(0,b.jsx)(`pre`,{children:n.responseExcerpt})]}):null]})]},n.sequence)}),(0,b.jsx)(ce,{...e})]})}function ce(e){switch(e.status){case`PENDING`:case`RETRYING`:return(0,b.jsxs)(`li`,{className:`timeline-item timeline-info timeline-now`,children:[(0,b.jsx)(`span`,{className:`timeline-dot`,"aria-hidden":`true`}),(0,b.jsxs)(`div`,{className:`timeline-body`,children:[(0,b.jsx)(`span`,{className:`timeline-title`,children:`Next attempt`}),` `,e.nextAttemptAt?(0,b.jsx)(f,{value:e.nextAttemptAt,relative:!0}):(0,b.jsx)(`span`,{className:`muted`,children:`due now`})]})]});case`SUCCEEDED`:return(0,b.jsxs)(`li`,{className:`timeline-item timeline-success timeline-now`,children:[(0,b.jsx)(`span`,{className:`timeline-dot`,"aria-hidden":`true`}),(0,b.jsxs)(`div`,{className:`timeline-body`,children:[(0,b.jsx)(`span`,{className:`timeline-title`,children:`Delivered`}),` `,(0,b.jsx)(f,{value:e.updatedAt})]})]});case`DEAD_LETTERED`:return(0,b.jsxs)(`li`,{className:`timeline-item timeline-danger timeline-now`,children:[(0,b.jsx)(`span`,{className:`timeline-dot`,"aria-hidden":`true`}),(0,b.jsxs)(`div`,{className:`timeline-body`,children:[(0,b.jsx)(`span`,{className:`timeline-title`,children:`Dead-lettered`}),` `,(0,b.jsx)(f,{value:e.updatedAt})]})]});case`CANCELLED`:return(0,b.jsxs)(`li`,{className:`timeline-item timeline-neutral timeline-now`,children:[(0,b.jsx)(`span`,{className:`timeline-dot`,"aria-hidden":`true`}),(0,b.jsxs)(`div`,{className:`timeline-body`,children:[(0,b.jsx)(`span`,{className:`timeline-title`,children:`Cancelled`}),` `,(0,b.jsx)(f,{value:e.updatedAt})]})]});default:return null}}export{ne as C,x as D,D as E,O,S,C as T,re as _,Y as a,N as b,V as c,B as d,I as f,G as g,H as h,J as i,te as k,z as l,F as m,oe as n,q as o,U as p,$ as r,K as s,se as t,P as u,j as v,w,A as x,M as y};