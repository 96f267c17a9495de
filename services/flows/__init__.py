"""Flows: drafts, publishing, versions, templates, and import/export in the seeds' formats."""
