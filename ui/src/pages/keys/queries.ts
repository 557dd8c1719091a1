import { graphql } from "../../gql";

export const API_KEYS = graphql(`
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
`);

export const ISSUE_KEY = graphql(`
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
`);

export const REVOKE_KEY = graphql(`
  mutation RevokeApiKey($id: ID!, $reason: String) {
    revokeApiKey(id: $id, reason: $reason) {
      id
      status
      revokedAt
    }
  }
`);
