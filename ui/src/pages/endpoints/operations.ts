import { graphql } from "../../gql";

export const ENDPOINT_FIELDS = graphql(`
  fragment EndpointFields on Endpoint {
    id
    systemName
    url
    status
    disabledReason
    timeoutMs
    retrySchedule
    previousSecretExpiresAt
    createdAt
    updatedAt
    failingSince
    failedAttempts
    successRate
  }
`);

export const ENDPOINTS_QUERY = graphql(`
  query EndpointsList(
    $filter: EndpointFilter
    $first: Int
    $after: String
    $last: Int
    $before: String
  ) {
    endpoints(
      filter: $filter
      first: $first
      after: $after
      last: $last
      before: $before
    ) {
      edges {
        cursor
        node {
          ...EndpointFields
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

export const ENDPOINT_QUERY = graphql(`
  query EndpointDetail($id: ID!) {
    endpoint(id: $id) {
      ...EndpointFields
    }
  }
`);

export const REGISTER_ENDPOINT = graphql(`
  mutation RegisterEndpoint($input: RegisterEndpointInput!) {
    registerEndpoint(input: $input) {
      secret
      endpoint {
        ...EndpointFields
      }
    }
  }
`);

export const CHANGE_ENDPOINT_URL = graphql(`
  mutation ChangeEndpointUrl($id: ID!, $url: String!) {
    changeEndpointUrl(id: $id, url: $url) {
      ...EndpointFields
    }
  }
`);

export const ROTATE_ENDPOINT_SECRET = graphql(`
  mutation RotateEndpointSecret($id: ID!, $gracePeriodSecs: Int) {
    rotateEndpointSecret(id: $id, gracePeriodSecs: $gracePeriodSecs) {
      secret
      endpoint {
        ...EndpointFields
      }
    }
  }
`);

export const DISABLE_ENDPOINT = graphql(`
  mutation DisableEndpoint($id: ID!) {
    disableEndpoint(id: $id) {
      ...EndpointFields
    }
  }
`);

export const ENABLE_ENDPOINT = graphql(`
  mutation EnableEndpoint($id: ID!) {
    enableEndpoint(id: $id) {
      ...EndpointFields
    }
  }
`);

export const DELETE_ENDPOINT = graphql(`
  mutation DeleteEndpoint($id: ID!) {
    deleteEndpoint(id: $id) {
      ...EndpointFields
    }
  }
`);

export const ENDPOINT_RECENT_DELIVERIES = graphql(`
  query EndpointRecentDeliveries(
    $endpointId: ID!
    $first: Int
    $after: String
  ) {
    deliveries(
      filter: { endpointId: $endpointId }
      first: $first
      after: $after
    ) {
      nodes {
        id
        eventId
        status
        attemptCount
        responseCode
        nextAttemptAt
        updatedAt
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const ENDPOINT_DELIVERY_UPDATES = graphql(`
  subscription EndpointDeliveryUpdates($endpointId: ID!, $after: String) {
    deliveryUpdates(endpointId: $endpointId, after: $after) {
      deliveryId
      eventId
      change
      status
      attempts
      lastResponseCode
      nextAttemptAt
      recordedAt
      cursor
    }
  }
`);

export const LOG_END = graphql(`
  query EndpointFeedLogEnd {
    log(last: 1) {
      edges {
        cursor
      }
    }
  }
`);
