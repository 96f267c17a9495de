"""The GraphQL schema's parts by domain: object types and Query/Mutation/Subscription resolvers."""
