"""The FastAPI application: GraphQL schema, health check and channel ingress endpoints."""
