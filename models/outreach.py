"""Pydantic types of proactive starts (outreaches), passed to `OutreachWorkflow`."""

from __future__ import annotations

from pydantic import BaseModel


class OutreachInput(BaseModel):
    """Start arguments of `OutreachWorkflow`; the contacts are in the `outreach_contacts` table."""

    outreach_id: str
    next_position: int = 0
