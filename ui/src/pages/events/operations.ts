import { graphql } from "../../gql";

export const EVENTS_QUERY = graphql(`
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
`);

export const EVENT_DETAIL_QUERY = graphql(`
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
`);

export const EVENT_STREAM_QUERY = graphql(`
  query EventStream($aggregateId: String!) {
    history(aggregateType: INTEGRATION_EVENT, aggregateId: $aggregateId) {
      sequence
      eventType
      payload
      metadata
      recordedAt
    }
  }
`);
