/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query Viewer {\n    viewer {\n      id\n      name\n      permissions\n      rateLimitPerMinute\n    }\n  }\n": typeof types.ViewerDocument,
    "\n  query SyncJobs(\n    $filter: SyncJobFilter\n    $first: Int\n    $after: String\n    $last: Int\n    $before: String\n  ) {\n    syncJobs(\n      filter: $filter\n      first: $first\n      after: $after\n      last: $last\n      before: $before\n    ) {\n      edges {\n        node {\n          id\n          jobType\n          status\n          progressDone\n          progressTotal\n          error\n          startedAt\n          finishedAt\n          createdAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n    }\n  }\n": typeof types.SyncJobsDocument,
    "\n  query SyncJob($id: ID!) {\n    syncJob(id: $id) {\n      id\n      jobType\n      status\n      parameters\n      progressDone\n      progressTotal\n      error\n      startedAt\n      finishedAt\n      createdAt\n      updatedAt\n    }\n  }\n": typeof types.SyncJobDocument,
    "\n  mutation RebuildReadModels {\n    rebuildProjection(name: \"read_models\") {\n      id\n      status\n    }\n  }\n": typeof types.RebuildReadModelsDocument,
    "\n  mutation VerifyLog {\n    verifyLog {\n      id\n      status\n    }\n  }\n": typeof types.VerifyLogDocument,
    "\n  query ApiKeys(\n    $filter: ApiKeyFilter\n    $first: Int\n    $after: String\n    $last: Int\n    $before: String\n  ) {\n    apiKeys(\n      filter: $filter\n      first: $first\n      after: $after\n      last: $last\n      before: $before\n    ) {\n      edges {\n        node {\n          id\n          name\n          prefix\n          permissions\n          status\n          rateLimitPerMinute\n          lastUsedAt\n          createdAt\n          revokedAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n    }\n  }\n": typeof types.ApiKeysDocument,
    "\n  mutation IssueApiKey($input: IssueApiKeyInput!) {\n    issueApiKey(input: $input) {\n      key\n      apiKey {\n        id\n        name\n        prefix\n        permissions\n        status\n        rateLimitPerMinute\n        createdAt\n      }\n    }\n  }\n": typeof types.IssueApiKeyDocument,
    "\n  mutation RevokeApiKey($id: ID!, $reason: String) {\n    revokeApiKey(id: $id, reason: $reason) {\n      id\n      status\n      revokedAt\n    }\n  }\n": typeof types.RevokeApiKeyDocument,
    "\n  query Overview(\n    $withHealth: Boolean!\n    $withSubscriptions: Boolean!\n    $withJobs: Boolean!\n  ) {\n    overview(minutes: 60) @include(if: $withHealth) {\n      minutes {\n        minute\n        eventsReceived\n        deliveriesSucceeded\n        deliveriesFailed\n        deadLettered\n      }\n      retryQueueDepth\n      oldestDueAt\n      endpoints {\n        active\n        failing\n        disabled\n      }\n    }\n    subscriptions @include(if: $withSubscriptions) {\n      name\n      feeds\n      position\n      lagEvents\n      lagMs\n      state\n      error\n      updatedAt\n    }\n    syncJobs(first: 20, filter: { status: RUNNING }) @include(if: $withJobs) {\n      edges {\n        node {\n          id\n          jobType\n          status\n          progressDone\n          progressTotal\n          startedAt\n        }\n      }\n    }\n  }\n": typeof types.OverviewDocument,
};
const documents: Documents = {
    "\n  query Viewer {\n    viewer {\n      id\n      name\n      permissions\n      rateLimitPerMinute\n    }\n  }\n": types.ViewerDocument,
    "\n  query SyncJobs(\n    $filter: SyncJobFilter\n    $first: Int\n    $after: String\n    $last: Int\n    $before: String\n  ) {\n    syncJobs(\n      filter: $filter\n      first: $first\n      after: $after\n      last: $last\n      before: $before\n    ) {\n      edges {\n        node {\n          id\n          jobType\n          status\n          progressDone\n          progressTotal\n          error\n          startedAt\n          finishedAt\n          createdAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n    }\n  }\n": types.SyncJobsDocument,
    "\n  query SyncJob($id: ID!) {\n    syncJob(id: $id) {\n      id\n      jobType\n      status\n      parameters\n      progressDone\n      progressTotal\n      error\n      startedAt\n      finishedAt\n      createdAt\n      updatedAt\n    }\n  }\n": types.SyncJobDocument,
    "\n  mutation RebuildReadModels {\n    rebuildProjection(name: \"read_models\") {\n      id\n      status\n    }\n  }\n": types.RebuildReadModelsDocument,
    "\n  mutation VerifyLog {\n    verifyLog {\n      id\n      status\n    }\n  }\n": types.VerifyLogDocument,
    "\n  query ApiKeys(\n    $filter: ApiKeyFilter\n    $first: Int\n    $after: String\n    $last: Int\n    $before: String\n  ) {\n    apiKeys(\n      filter: $filter\n      first: $first\n      after: $after\n      last: $last\n      before: $before\n    ) {\n      edges {\n        node {\n          id\n          name\n          prefix\n          permissions\n          status\n          rateLimitPerMinute\n          lastUsedAt\n          createdAt\n          revokedAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n    }\n  }\n": types.ApiKeysDocument,
    "\n  mutation IssueApiKey($input: IssueApiKeyInput!) {\n    issueApiKey(input: $input) {\n      key\n      apiKey {\n        id\n        name\n        prefix\n        permissions\n        status\n        rateLimitPerMinute\n        createdAt\n      }\n    }\n  }\n": types.IssueApiKeyDocument,
    "\n  mutation RevokeApiKey($id: ID!, $reason: String) {\n    revokeApiKey(id: $id, reason: $reason) {\n      id\n      status\n      revokedAt\n    }\n  }\n": types.RevokeApiKeyDocument,
    "\n  query Overview(\n    $withHealth: Boolean!\n    $withSubscriptions: Boolean!\n    $withJobs: Boolean!\n  ) {\n    overview(minutes: 60) @include(if: $withHealth) {\n      minutes {\n        minute\n        eventsReceived\n        deliveriesSucceeded\n        deliveriesFailed\n        deadLettered\n      }\n      retryQueueDepth\n      oldestDueAt\n      endpoints {\n        active\n        failing\n        disabled\n      }\n    }\n    subscriptions @include(if: $withSubscriptions) {\n      name\n      feeds\n      position\n      lagEvents\n      lagMs\n      state\n      error\n      updatedAt\n    }\n    syncJobs(first: 20, filter: { status: RUNNING }) @include(if: $withJobs) {\n      edges {\n        node {\n          id\n          jobType\n          status\n          progressDone\n          progressTotal\n          startedAt\n        }\n      }\n    }\n  }\n": types.OverviewDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Viewer {\n    viewer {\n      id\n      name\n      permissions\n      rateLimitPerMinute\n    }\n  }\n"): (typeof documents)["\n  query Viewer {\n    viewer {\n      id\n      name\n      permissions\n      rateLimitPerMinute\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SyncJobs(\n    $filter: SyncJobFilter\n    $first: Int\n    $after: String\n    $last: Int\n    $before: String\n  ) {\n    syncJobs(\n      filter: $filter\n      first: $first\n      after: $after\n      last: $last\n      before: $before\n    ) {\n      edges {\n        node {\n          id\n          jobType\n          status\n          progressDone\n          progressTotal\n          error\n          startedAt\n          finishedAt\n          createdAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n    }\n  }\n"): (typeof documents)["\n  query SyncJobs(\n    $filter: SyncJobFilter\n    $first: Int\n    $after: String\n    $last: Int\n    $before: String\n  ) {\n    syncJobs(\n      filter: $filter\n      first: $first\n      after: $after\n      last: $last\n      before: $before\n    ) {\n      edges {\n        node {\n          id\n          jobType\n          status\n          progressDone\n          progressTotal\n          error\n          startedAt\n          finishedAt\n          createdAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SyncJob($id: ID!) {\n    syncJob(id: $id) {\n      id\n      jobType\n      status\n      parameters\n      progressDone\n      progressTotal\n      error\n      startedAt\n      finishedAt\n      createdAt\n      updatedAt\n    }\n  }\n"): (typeof documents)["\n  query SyncJob($id: ID!) {\n    syncJob(id: $id) {\n      id\n      jobType\n      status\n      parameters\n      progressDone\n      progressTotal\n      error\n      startedAt\n      finishedAt\n      createdAt\n      updatedAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RebuildReadModels {\n    rebuildProjection(name: \"read_models\") {\n      id\n      status\n    }\n  }\n"): (typeof documents)["\n  mutation RebuildReadModels {\n    rebuildProjection(name: \"read_models\") {\n      id\n      status\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation VerifyLog {\n    verifyLog {\n      id\n      status\n    }\n  }\n"): (typeof documents)["\n  mutation VerifyLog {\n    verifyLog {\n      id\n      status\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ApiKeys(\n    $filter: ApiKeyFilter\n    $first: Int\n    $after: String\n    $last: Int\n    $before: String\n  ) {\n    apiKeys(\n      filter: $filter\n      first: $first\n      after: $after\n      last: $last\n      before: $before\n    ) {\n      edges {\n        node {\n          id\n          name\n          prefix\n          permissions\n          status\n          rateLimitPerMinute\n          lastUsedAt\n          createdAt\n          revokedAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n    }\n  }\n"): (typeof documents)["\n  query ApiKeys(\n    $filter: ApiKeyFilter\n    $first: Int\n    $after: String\n    $last: Int\n    $before: String\n  ) {\n    apiKeys(\n      filter: $filter\n      first: $first\n      after: $after\n      last: $last\n      before: $before\n    ) {\n      edges {\n        node {\n          id\n          name\n          prefix\n          permissions\n          status\n          rateLimitPerMinute\n          lastUsedAt\n          createdAt\n          revokedAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        hasPreviousPage\n        startCursor\n        endCursor\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation IssueApiKey($input: IssueApiKeyInput!) {\n    issueApiKey(input: $input) {\n      key\n      apiKey {\n        id\n        name\n        prefix\n        permissions\n        status\n        rateLimitPerMinute\n        createdAt\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation IssueApiKey($input: IssueApiKeyInput!) {\n    issueApiKey(input: $input) {\n      key\n      apiKey {\n        id\n        name\n        prefix\n        permissions\n        status\n        rateLimitPerMinute\n        createdAt\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeApiKey($id: ID!, $reason: String) {\n    revokeApiKey(id: $id, reason: $reason) {\n      id\n      status\n      revokedAt\n    }\n  }\n"): (typeof documents)["\n  mutation RevokeApiKey($id: ID!, $reason: String) {\n    revokeApiKey(id: $id, reason: $reason) {\n      id\n      status\n      revokedAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Overview(\n    $withHealth: Boolean!\n    $withSubscriptions: Boolean!\n    $withJobs: Boolean!\n  ) {\n    overview(minutes: 60) @include(if: $withHealth) {\n      minutes {\n        minute\n        eventsReceived\n        deliveriesSucceeded\n        deliveriesFailed\n        deadLettered\n      }\n      retryQueueDepth\n      oldestDueAt\n      endpoints {\n        active\n        failing\n        disabled\n      }\n    }\n    subscriptions @include(if: $withSubscriptions) {\n      name\n      feeds\n      position\n      lagEvents\n      lagMs\n      state\n      error\n      updatedAt\n    }\n    syncJobs(first: 20, filter: { status: RUNNING }) @include(if: $withJobs) {\n      edges {\n        node {\n          id\n          jobType\n          status\n          progressDone\n          progressTotal\n          startedAt\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query Overview(\n    $withHealth: Boolean!\n    $withSubscriptions: Boolean!\n    $withJobs: Boolean!\n  ) {\n    overview(minutes: 60) @include(if: $withHealth) {\n      minutes {\n        minute\n        eventsReceived\n        deliveriesSucceeded\n        deliveriesFailed\n        deadLettered\n      }\n      retryQueueDepth\n      oldestDueAt\n      endpoints {\n        active\n        failing\n        disabled\n      }\n    }\n    subscriptions @include(if: $withSubscriptions) {\n      name\n      feeds\n      position\n      lagEvents\n      lagMs\n      state\n      error\n      updatedAt\n    }\n    syncJobs(first: 20, filter: { status: RUNNING }) @include(if: $withJobs) {\n      edges {\n        node {\n          id\n          jobType\n          status\n          progressDone\n          progressTotal\n          startedAt\n        }\n      }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;