import { graphql } from "../../gql";

export const SYNC_JOBS = graphql(`
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
`);

export const SYNC_JOB = graphql(`
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
`);

export const REBUILD = graphql(`
  mutation RebuildReadModels {
    rebuildProjection(name: "read_models") {
      id
      status
    }
  }
`);

export const VERIFY_LOG = graphql(`
  mutation VerifyLog {
    verifyLog {
      id
      status
    }
  }
`);
