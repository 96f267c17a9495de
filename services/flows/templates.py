"""Flow templates: the five built-in ones and each organization's private ones.

A built-in template's id is its slug (`customer-service-basic` ...); a private one's is a UUID
and is visible only to its organization.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowlang.templates import TemplateCategory, default_templates
from models.account_tables import TEMPLATE_DIFFICULTIES, OrganizationTemplate
from models.bot_tables import Bot
from models.errors import InvalidInput, NotFound
from models.flow_tables import Flow
from services.flows.drafts import flow_names, free_name, new_flow

CATEGORIES: tuple[str, ...] = TemplateCategory.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    category: str
    difficulty: str
    description: str
    built_in: bool
    definition: dict[str, Any]


def built_in_templates() -> list[Template]:
    return [
        Template(
            id=t.slug,
            name=t.name,
            category=t.category,
            difficulty=t.difficulty,
            description=t.description,
            built_in=True,
            definition=t.definition.to_json(),
        )
        for t in default_templates()
    ]


def _private(row: OrganizationTemplate) -> Template:
    return Template(
        id=str(row.id),
        name=row.name,
        category=row.category,
        difficulty=row.difficulty,
        description=row.description,
        built_in=False,
        definition=row.definition,
    )


async def list_templates(
    session: AsyncSession,
    organization_id: uuid.UUID,
    category: str | None = None,
    difficulty: str | None = None,
    search: str | None = None,
) -> list[Template]:
    """Built-in templates, then the organization's, filtered (search: name or description)."""
    rows = await session.scalars(
        select(OrganizationTemplate)
        .where(OrganizationTemplate.organization_id == organization_id)
        .order_by(OrganizationTemplate.created_at)
    )
    wanted = (search or "").casefold()
    return [
        template
        for template in [*built_in_templates(), *map(_private, rows)]
        if (category is None or template.category == category)
        and (difficulty is None or template.difficulty == difficulty)
        and (wanted in template.name.casefold() or wanted in template.description.casefold())
    ]


async def template_in(
    session: AsyncSession, organization_id: uuid.UUID, template_id: str
) -> Template:
    for template in built_in_templates():
        if template.id == template_id:
            return template
    return _private(await _private_row(session, organization_id, template_id))


async def _private_row(
    session: AsyncSession, organization_id: uuid.UUID, template_id: str
) -> OrganizationTemplate:
    try:
        key = uuid.UUID(template_id)
    except ValueError:
        raise NotFound("no such template") from None
    row = await session.get(OrganizationTemplate, key)
    if row is None or row.organization_id != organization_id:
        raise NotFound("no such template")
    return row


async def flow_from_template(
    session: AsyncSession,
    bot: Bot,
    template: Template,
    *,
    name: str | None = None,
    description: str | None = None,
    keywords: list[str] | None = None,
) -> Flow:
    """A draft flow copied from the template; with keywords it starts on them, else by hand."""
    keywords = [k.strip() for k in keywords or [] if k.strip()]
    trigger = {"type": "keyword" if keywords else "manual", "keywords": keywords, "pattern": None}
    flow_name = name or free_name(template.name, await flow_names(session, bot.id), "copy")
    return await new_flow(
        session,
        bot,
        flow_name,
        description=template.description if description is None else description,
        definition=template.definition,
        trigger=trigger,
    )


async def save_as_template(
    session: AsyncSession,
    flow: Flow,
    organization_id: uuid.UUID,
    *,
    name: str | None,
    description: str | None,
    category: str,
    difficulty: str,
    created_by: uuid.UUID | None,
) -> Template:
    """Keep the flow's draft as a private template of the organization."""
    if category not in CATEGORIES:
        raise InvalidInput(
            f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}"
        )
    if difficulty not in TEMPLATE_DIFFICULTIES:
        raise InvalidInput(
            f"unknown difficulty {difficulty!r}; expected one of {', '.join(TEMPLATE_DIFFICULTIES)}"
        )
    graph = {key: flow.definition.get(key) for key in ("nodes", "edges", "variables")}
    row = OrganizationTemplate(
        organization_id=organization_id,
        name=(name or flow.name).strip(),
        description=flow.description if description is None else description,
        category=category,
        difficulty=difficulty,
        definition=graph,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    return _private(row)


async def delete_template(
    session: AsyncSession, organization_id: uuid.UUID, template_id: str
) -> None:
    if any(t.id == template_id for t in built_in_templates()):
        raise InvalidInput("built-in templates cannot be deleted")
    await session.delete(await _private_row(session, organization_id, template_id))
