"""The node registry: for each node `type`, its data model, outgoing handles and behaviour.

One module per node type. To add one, write its module (a `NodeType`) and list it here.
"""

from __future__ import annotations

from flowlang.node_base import NodeType
from flowlang.nodes.ai import AI
from flowlang.nodes.api import API
from flowlang.nodes.audio import AUDIO
from flowlang.nodes.button import BUTTON
from flowlang.nodes.carousel import CAROUSEL
from flowlang.nodes.condition import CONDITION
from flowlang.nodes.contact import CONTACT
from flowlang.nodes.crm import CRM
from flowlang.nodes.delay import DELAY
from flowlang.nodes.email import EMAIL
from flowlang.nodes.end import END
from flowlang.nodes.file import FILE
from flowlang.nodes.form import FORM
from flowlang.nodes.list_menu import LIST
from flowlang.nodes.location import LOCATION
from flowlang.nodes.media import MEDIA
from flowlang.nodes.message import MESSAGE
from flowlang.nodes.payment import PAYMENT
from flowlang.nodes.question import QUESTION
from flowlang.nodes.quick_reply import QUICK_REPLY
from flowlang.nodes.set_variable import SET_VARIABLE
from flowlang.nodes.sms import SMS
from flowlang.nodes.start import START
from flowlang.nodes.transfer import TRANSFER
from flowlang.nodes.video import VIDEO
from flowlang.nodes.wait_event import WAIT_EVENT
from flowlang.nodes.webhook import WEBHOOK

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
