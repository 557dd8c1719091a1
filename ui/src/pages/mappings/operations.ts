import { graphql } from "../../gql";

export const MAPPING_FIELDS = graphql(`
  fragment MappingFields on Mapping {
    id
    eventType
    targetSystem
    version
    language
    program
    publishedAt
    retiredAt
    live
  }
`);

export const MAPPINGS_QUERY = graphql(`
  query MappingsList(
    $filter: MappingFilter
    $first: Int
    $after: String
    $last: Int
    $before: String
  ) {
    mappings(
      filter: $filter
      first: $first
      after: $after
      last: $last
      before: $before
    ) {
      edges {
        cursor
        node {
          ...MappingFields
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

export const MAPPING_VERSIONS_QUERY = graphql(`
  query MappingVersions(
    $eventType: String!
    $targetSystem: String!
    $first: Int
    $after: String
    $last: Int
    $before: String
  ) {
    mappings(
      filter: { eventType: $eventType, targetSystem: $targetSystem }
      first: $first
      after: $after
      last: $last
      before: $before
    ) {
      edges {
        cursor
        node {
          ...MappingFields
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

export const CHECK_MAPPING = graphql(`
  query CheckMapping($program: String!) {
    checkMapping(program: $program) {
      code
      message
      line
      column
    }
  }
`);

export const DRY_RUN_MAPPING = graphql(`
  query DryRunMapping($program: String!, $payload: JSON, $eventId: ID) {
    dryRunMapping(program: $program, payload: $payload, eventId: $eventId) {
      input
      output
      error {
        code
        message
        line
        column
      }
      durationMs
    }
  }
`);

export const PUBLISH_MAPPING = graphql(`
  mutation PublishMapping($input: PublishMappingInput!) {
    publishMapping(input: $input) {
      ...MappingFields
    }
  }
`);

export const RETIRE_MAPPING = graphql(`
  mutation RetireMapping($eventType: String!, $targetSystem: String!) {
    retireMapping(eventType: $eventType, targetSystem: $targetSystem) {
      ...MappingFields
    }
  }
`);

export const LATEST_EVENT_OF_TYPE = graphql(`
  query MappingLatestEvent($eventType: String!) {
    events(filter: { eventType: $eventType }, first: 1) {
      nodes {
        id
        eventKey
        sourceSystem
        createdAt
      }
    }
  }
`);

export const MAPPING_HEAD_QUERY = graphql(`
  query MappingHead($eventType: String!, $targetSystem: String!) {
    mappings(
      filter: { eventType: $eventType, targetSystem: $targetSystem }
      first: 1
    ) {
      nodes {
        ...MappingFields
      }
    }
  }
`);
