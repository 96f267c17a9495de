"""Salesforce through `simple-salesforce`: the SOAP session login it uses (username, password,
security token) against `salesforce_login_url`, then its REST API on the instance the login
names. Contacts are found by email or phone with SOQL; deals are Opportunities.

`simple-salesforce` is synchronous (requests), so each call runs in a thread. Salesforce's
`REQUEST_LIMIT_EXCEEDED`, 5xx and network errors are retried; other errors fail for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from xml.sax.saxutils import escape

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceResourceNotFound,
)
from simple_salesforce.util import getUniqueElementValueFromXmlString
from temporalio.exceptions import ApplicationError

from activities.integration_base import permanent, retryable
from models.payloads.integrations import CrmDeal

API_VERSION = "59.0"
T = TypeVar("T")
LOGIN_BODY = """<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:urn="urn:partner.soap.sforce.com">
  <env:Header><urn:CallOptions><urn:client>botbuilder</urn:client></urn:CallOptions></env:Header>
  <env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">
    <n1:username>{username}</n1:username><n1:password>{password}</n1:password>
  </n1:login></env:Body>
</env:Envelope>"""


class SalesforceCrm:
    def __init__(self, login_url: str, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        domain = config.get("domain") or "login"
        self.login_url = login_url.replace("://login.", f"://{domain}.", 1)
        self.username = config["username"]
        self.password = secrets["password"] + (secrets.get("security_token") or "")
        self._sf: Salesforce | None = None

    async def find(self, email: str, phone: str) -> str | None:
        for field, value in (("Email", email), ("Phone", phone)):
            if value:
                soql = f"SELECT Id FROM Contact WHERE {field} = '{_quoted(value)}' LIMIT 1"
                found = await self._run(lambda sf, q=soql: sf.query(q))
                if found["records"]:
                    return str(found["records"][0]["Id"])
        return None

    async def create(self, fields: dict[str, str], email: str, phone: str) -> str:
        record = {"LastName": email or phone}  # Salesforce requires a last name
        record.update({key: value for key, value in (("Email", email), ("Phone", phone)) if value})
        created = await self._run(lambda sf: sf.Contact.create({**record, **fields}))
        return str(created["id"])

    async def update(self, record_id: str, fields: dict[str, str]) -> bool:
        if not fields:
            return True
        try:
            await self._run(lambda sf: sf.Contact.update(record_id, fields))
        except SalesforceResourceNotFound:
            return False
        return True

    async def create_deal(self, record_id: str, deal: CrmDeal) -> str:
        opportunity: dict[str, Any] = {
            "Name": deal.name,
            "StageName": deal.stage or "Prospecting",
            "CloseDate": _in_a_month(),
        }
        if deal.amount is not None:
            opportunity["Amount"] = deal.amount
        created = await self._run(lambda sf: sf.Opportunity.create(opportunity))
        role = {"OpportunityId": created["id"], "ContactId": record_id, "IsPrimary": True}
        await self._run(lambda sf: sf.OpportunityContactRole.create(role))
        return str(created["id"])

    async def _run(self, action: Callable[[Salesforce], T]) -> T:
        """`action` on a logged-in client, in a thread; Salesforce's errors classified."""
        try:
            return await asyncio.to_thread(lambda: action(self._client()))
        except SalesforceResourceNotFound:
            raise
        except SalesforceError as err:
            raise classify(err) from err
        except requests.RequestException as err:
            raise retryable(f"Salesforce unreachable: {err!r}") from err

    def _client(self) -> Salesforce:
        if self._sf is None:
            session_id, instance_url = self._login()
            self._sf = Salesforce(
                instance_url=instance_url, session_id=session_id, version=API_VERSION
            )
        return self._sf

    def _login(self) -> tuple[str, str]:
        """The SOAP `login` call simple-salesforce makes: (session id, instance URL)."""
        body = LOGIN_BODY.format(username=escape(self.username), password=escape(self.password))
        response = requests.post(
            f"{self.login_url}/services/Soap/u/{API_VERSION}",
            data=body.encode(),
            timeout=30,
            headers={"content-type": "text/xml", "charset": "UTF-8", "SOAPAction": "login"},
        )
        if response.status_code != 200:  # a SOAP fault names its cause; anything else is transient
            code = getUniqueElementValueFromXmlString(response.content, "sf:exceptionCode")
            message = getUniqueElementValueFromXmlString(response.content, "sf:exceptionMessage")
            if code is None or code == "REQUEST_LIMIT_EXCEEDED":
                raise retryable(f"Salesforce login answered {response.status_code}: {message}")
            raise permanent(f"Salesforce login refused: {code}: {message}")
        session_id = getUniqueElementValueFromXmlString(response.content, "sessionId")
        server_url = getUniqueElementValueFromXmlString(response.content, "serverUrl") or ""
        scheme, _, rest = server_url.partition("://")
        return session_id or "", f"{scheme}://{rest.split('/')[0]}"


def classify(err: SalesforceError) -> ApplicationError:
    """`REQUEST_LIMIT_EXCEEDED` and 5xx are temporary; other errors are final."""
    content = err.content if isinstance(err.content, list) else []
    codes = {item.get("errorCode") for item in content if isinstance(item, dict)}
    message = f"Salesforce answered {err.status}: {content or err.content}"
    if "REQUEST_LIMIT_EXCEEDED" in codes or err.status >= 500:
        return retryable(message)
    if isinstance(err, SalesforceExpiredSession):
        return retryable(message)
    return permanent(message)


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _in_a_month() -> str:
    return (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
