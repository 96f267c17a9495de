"""The flow language: the flow graph, expressions, validation, and the node types."""
