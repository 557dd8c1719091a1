import { graphql } from "../../gql";

export const DELIVERY_FRAGMENT = graphql(`
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
`);

export const DELIVERIES_QUERY = graphql(`
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
`);

export const RETRY_QUEUE_QUERY = graphql(`
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
`);

export const DEAD_LETTERS_QUERY = graphql(`
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
`);

export const DELIVERY_DETAIL_QUERY = graphql(`
  query DeliveryDetail($id: ID!) {
    delivery(id: $id) {
      ...DeliveryWithAttempts
    }
  }
`);

export const DELIVERY_DEAD_LETTERS_QUERY = graphql(`
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
`);

export const ENDPOINT_NAMES_QUERY = graphql(`
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
`);

export const REQUEUE_MUTATION = graphql(`
  mutation RequeueDelivery($id: ID!, $reason: String) {
    requeueDelivery(id: $id, reason: $reason) {
      deliveryId
      webhookId
      dueAt
    }
  }
`);

export const REPLAY_MUTATION = graphql(`
  mutation ReplayDeadLetters($filter: ReplayDeadLettersInput) {
    replayDeadLetters(filter: $filter) {
      id
      jobType
      status
      progressDone
      progressTotal
    }
  }
`);

export const SYNC_JOB_QUERY = graphql(`
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
`);
