"""Tables of the integrations: each organization's credentials per integration kind."""

from __future__ import annotations

import uuid

from sqlalchemy import Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base
from models.integration_config import INTEGRATION_KINDS
from models.tables import CreatedAt, JSONObject, UpdatedAt, UUIDPrimaryKey, cascade_to, one_of


class IntegrationCredential(Base):
    """One organization's settings for one integration kind; secrets sealed, never returned."""

    __tablename__ = "integration_credentials"
    __table_args__ = (
        UniqueConstraint("organization_id", "kind"),
        one_of("kind", INTEGRATION_KINDS),
    )

    id: Mapped[UUIDPrimaryKey]
    organization_id: Mapped[uuid.UUID] = mapped_column(cascade_to("organizations.id"))
    kind: Mapped[str] = mapped_column(Text)
    config: Mapped[JSONObject]
    secrets_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
