"""Contacts on WhatsApp Cloud and Twilio, as the providers' webhooks speak for them in tests."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from channels.config import webhook_urls
from models.bot_tables import Channel
from models.conversation_tables import Contact, Message
from models.db import make_session_factory
from models.secret_box import SecretBox
from models.settings import Settings
from tests import fake_meta
from tests.fake_meta import FakeMeta
from tests.fake_twilio import FakeTwilio, twilio_signature
from tests.helpers import make_bot, wait_for
from workflows.conversation_base import conversation_workflow_id

APP_SECRET, VERIFY_TOKEN, ACCESS_TOKEN = "meta-app-secret", "verify-me", "EAAG-test-token"
AUTH_TOKEN = "twilio-auth-token"


def unique_number() -> str:
    """A phone number id / sender number no other test uses (pacing is per sender)."""
    return str(10**11 + uuid.uuid4().int % 10**11)


async def make_whatsapp_bot(
    engine: AsyncEngine,
    settings: Settings,
    definition: dict[str, Any],
    *,
    access_token: str = ACCESS_TOKEN,
    **config: Any,
) -> tuple[str, str]:
    """A bot on a WhatsApp Cloud channel running `definition`; returns (channel id, phone id)."""
    phone_number_id = config.pop("phone_number_id", unique_number())
    secrets = {"access_token": access_token, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}
    _bot, channel_id = await make_bot(
        engine,
        definition,
        kind="whatsapp_cloud",
        config={"phone_number_id": phone_number_id, **config},
        secrets_encrypted=SecretBox(settings.resolved_secret_key()).encrypt(secrets),
    )
    return channel_id, phone_number_id


async def make_twilio_bot(
    engine: AsyncEngine,
    settings: Settings,
    twilio: FakeTwilio,
    definition: dict[str, Any],
    *,
    whatsapp: bool = True,
    **config: Any,
) -> tuple[str, str]:
    """A bot on a Twilio channel (WhatsApp or SMS); returns (channel id, from number)."""
    account_sid = "AC" + uuid.uuid4().hex
    twilio.accounts[account_sid] = AUTH_TOKEN
    number = f"+1{unique_number()[:10]}"
    from_number = f"whatsapp:{number}" if whatsapp else number
    _bot, channel_id = await make_bot(
        engine,
        definition,
        kind="twilio",
        config={"account_sid": account_sid, "from_number": from_number, **config},
        secrets_encrypted=SecretBox(settings.resolved_secret_key()).encrypt(
            {"auth_token": AUTH_TOKEN}
        ),
    )
    return channel_id, from_number


async def stored_messages(engine: AsyncEngine, channel_id: str) -> list[Message]:
    """The channel's stored messages, oldest first."""
    async with make_session_factory(engine)() as session:
        query = (
            select(Message)
            .where(Message.channel_id == uuid.UUID(channel_id))
            .order_by(Message.created_at, Message.id)
        )
        return list((await session.scalars(query)).all())


async def stored_contact(engine: AsyncEngine, external_id: str) -> Contact | None:
    async with make_session_factory(engine)() as session:
        return await session.scalar(select(Contact).where(Contact.external_id == external_id))


async def conversation_started(
    client: Client, engine: AsyncEngine, channel_id: str, contact_id: str
) -> bool:
    """Whether Temporal has a conversation workflow for this contact on this channel."""
    async with make_session_factory(engine)() as session:
        channel = await session.get(Channel, uuid.UUID(channel_id))
    assert channel is not None
    workflow_id = conversation_workflow_id(str(channel.bot_id), channel_id, contact_id)
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


class ProviderUser:
    """A contact as the provider sees it: `received()` lists what we asked it to deliver."""

    what = "messages"

    def received(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def wait_received(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """What the provider was asked to send this contact, once it is at least `count`."""

        async def enough() -> list[dict[str, Any]] | None:
            got = self.received()
            return got if len(got) >= count else None

        return await wait_for(enough, timeout=timeout, what=f"{count} {self.what}")


class WhatsAppUser(ProviderUser):
    """A WhatsApp user writing to a channel (through signed Meta webhooks) and reading what
    Meta was asked to deliver to them."""

    def __init__(
        self,
        api: httpx.AsyncClient,
        meta: FakeMeta,
        channel_id: str,
        phone_number_id: str,
        wa_id: str,
        name: str = "Ana",
    ) -> None:
        self.api, self.meta, self.channel_id = api, meta, channel_id
        self.phone_number_id, self.wa_id, self.name = phone_number_id, wa_id, name

    @property
    def url(self) -> str:
        return f"/channels/whatsapp/{self.channel_id}/webhook"

    async def post(self, payload: dict[str, Any], signature: str | None = "good") -> httpx.Response:
        """POST a webhook; `signature` "good" signs it with the app secret, None omits it."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            good = fake_meta.signature(APP_SECRET, body)
            headers["X-Hub-Signature-256"] = good if signature == "good" else signature
        return await self.api.post(self.url, content=body, headers=headers)

    async def send(self, kind: str, body: Any, **extra: Any) -> str:
        """Deliver one message of this user; returns its wamid."""
        message = fake_meta.message(self.wa_id, kind, body, **extra)
        payload = fake_meta.webhook(
            self.phone_number_id, messages=[message], names={self.wa_id: self.name}
        )
        response = await self.post(payload)
        assert response.status_code == 200, response.text
        return message["id"]

    async def says(self, text: str) -> str:
        return await self.send("text", {"body": text})

    async def report(self, message_id: str, state: str, **extra: Any) -> httpx.Response:
        payload = fake_meta.webhook(
            self.phone_number_id,
            statuses=[fake_meta.status(message_id, state, self.wa_id, **extra)],
        )
        response = await self.post(payload)
        assert response.status_code == 200, response.text
        return response

    what = "WhatsApp messages"

    def received(self) -> list[dict[str, Any]]:
        return self.meta.messages_to(self.wa_id)


class TwilioUser(ProviderUser):
    """A phone writing to a Twilio channel (signed form webhooks) and what Twilio got for it."""

    def __init__(
        self,
        api: httpx.AsyncClient,
        twilio: FakeTwilio,
        settings: Settings,
        channel_id: str,
        from_number: str,
        phone: str,
    ) -> None:
        self.api, self.twilio, self.channel_id = api, twilio, channel_id
        self.urls = webhook_urls(settings.resolved_public_url(), "twilio", channel_id)
        self.prefix = "whatsapp:" if from_number.startswith("whatsapp:") else ""
        self.from_number, self.address = from_number, f"{self.prefix}{phone}"

    async def post(
        self, purpose: str, fields: dict[str, str], signature: str | None = "good"
    ) -> httpx.Response:
        url = self.urls[purpose]
        headers = {}
        if signature is not None:
            good = twilio_signature(AUTH_TOKEN, url, fields)
            headers["X-Twilio-Signature"] = good if signature == "good" else signature
        path = url.split("/channels/", 1)[1]
        return await self.api.post(f"/channels/{path}", data=fields, headers=headers)

    async def send(self, **fields: str) -> str:
        sid = fields.pop("MessageSid", f"SM{uuid.uuid4().hex}")
        form = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": self.address,
            "To": self.from_number,
            "NumMedia": "0",
            "Body": "",
            **fields,
        }
        response = await self.post("webhook", form)
        assert response.status_code == 200, response.text
        return sid

    async def says(self, text: str) -> str:
        return await self.send(Body=text)

    async def report(self, sid: str, state: str, **extra: str) -> None:
        form = {
            "MessageSid": sid,
            "MessageStatus": state,
            "To": self.address,
            "From": self.from_number,
            **extra,
        }
        response = await self.post("status_callback", form)
        assert response.status_code == 204, response.text

    what = "Twilio messages"

    def received(self) -> list[dict[str, Any]]:
        return self.twilio.messages_to(self.address)
