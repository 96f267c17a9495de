"""The node registry: for each node `type`, its data model, outgoing handles and behaviour.

One module per node type. To add one, write its module (a `NodeType`) and list it here.
"""

from __future__ import annotations

from workflows.nodes.ai import AI
from workflows.nodes.api import API
from workflows.nodes.audio import AUDIO
from workflows.nodes.base import NodeType
from workflows.nodes.button import BUTTON
from workflows.nodes.carousel import CAROUSEL
from workflows.nodes.condition import CONDITION
from workflows.nodes.contact import CONTACT
from workflows.nodes.crm import CRM
from workflows.nodes.delay import DELAY
from workflows.nodes.email import EMAIL
from workflows.nodes.end import END
from workflows.nodes.file import FILE
from workflows.nodes.form import FORM
from workflows.nodes.list_menu import LIST
from workflows.nodes.location import LOCATION
from workflows.nodes.media import MEDIA
from workflows.nodes.message import MESSAGE
from workflows.nodes.payment import PAYMENT
from workflows.nodes.question import QUESTION
from workflows.nodes.quick_reply import QUICK_REPLY
from workflows.nodes.set_variable import SET_VARIABLE
from workflows.nodes.sms import SMS
from workflows.nodes.start import START
from workflows.nodes.transfer import TRANSFER
from workflows.nodes.video import VIDEO
from workflows.nodes.wait_event import WAIT_EVENT
from workflows.nodes.webhook import WEBHOOK

REGISTRY: dict[str, NodeType] = {
    node_type.type: node_type
    for node_type in (
        START,
        MESSAGE,
        QUESTION,
        BUTTON,
        QUICK_REPLY,
        LIST,
        CAROUSEL,
        FORM,
        MEDIA,
        FILE,
        AUDIO,
        VIDEO,
        LOCATION,
        CONTACT,
        DELAY,
        CONDITION,
        SET_VARIABLE,
        API,
        WEBHOOK,
        AI,
        EMAIL,
        SMS,
        PAYMENT,
        CRM,
        TRANSFER,
        END,
        WAIT_EVENT,
    )
}


class UnknownNodeType(LookupError):
    """No node type is registered under this name."""


def get_node_type(type_name: str) -> NodeType:
    """The registered node type; raises `UnknownNodeType`."""
    try:
        return REGISTRY[type_name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise UnknownNodeType(f"unknown node type {type_name!r} (known: {known})") from None
