"""The API process: the FastAPI app with GraphQL (`graph/`), plain HTTP endpoints (`http/`),
health and the web console."""
