"""The console in Debian's headless Chromium (driven by Playwright): sign up, create a bot, build
and publish a flow on the canvas, chat with it, take the conversation over in the inbox, and read
what it did on the analytics page, and subscribe a webhook endpoint.

Screenshots of each page are saved under the artefacts folder the test prints (or
`BOTBUILDER_ARTEFACTS`)."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.base import AXE_SCRIPT
from fastapi import FastAPI
from playwright.async_api import Browser, Locator, Page, async_playwright, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from models.settings import Settings
from tests.helpers import rollups_drained, wait_for
from tests.live_server import live_server
from tests.webhook_receiver import Receiver

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
EMAIL = "owner@example.com"
AGENT = "agent@example.com"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed: apt-get install -y chromium"
)


@pytest.fixture
def artefacts() -> Path:
    folder = Path(os.environ.get("BOTBUILDER_ARTEFACTS") or tempfile.mkdtemp(prefix="console-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots in {folder}")
    return folder


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Chromium with a fresh profile (Playwright gives each launch its own --user-data-dir)."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        await chromium.close()


async def new_page(browser: Browser, width: int = 1440, height: int = 1000) -> Page:
    context = await browser.new_context(locale="en-US", viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    return await context.new_page()


async def drop_node(page: Page, kind: str, x: int, y: int) -> None:
    """Drag a node type from the palette onto the canvas at (x, y) within it."""
    canvas = page.locator(".canvas")
    await page.get_by_test_id(f"palette-{kind}").drag_to(canvas, target_position={"x": x, "y": y})


async def connect(page: Page, source: str, handle: str, target: str) -> None:
    out = page.locator(f'[data-testid="node-{source}"] .source[data-handleid="{handle}"]')
    into = page.locator(f'[data-testid="node-{target}"] .target')
    await out.drag_to(into)
    await expect(page.locator(f'[data-id="e-{source}-{handle}-{target}"]')).to_have_count(1)


async def edit(page: Page, node: str, field: str, value: str) -> None:
    await page.get_by_test_id(f"node-{node}").click()
    await page.locator(f"#prop-{node}-{field}").fill(value)


async def saved(page: Page) -> None:
    await expect(page.locator(".save-state")).to_have_attribute("data-state", "saved")


async def test_build_publish_chat_and_take_over_in_the_browser(
    api: httpx.AsyncClient,
    test_settings: Settings,
    browser: Browser,
    artefacts: Path,
    db_engine: AsyncEngine,
) -> None:
    async with serving(test_settings, browser) as (app, base_url):
        page = await new_page(browser)
        shot = Screenshots(page, artefacts)
        await sign_up_and_create_a_bot(page, base_url, shot)
        await build_and_publish_a_flow(page, shot)
        editor_url = page.url
        await try_it(page, shot)
        await take_over_in_the_inbox(page, shot)

        await see_a_new_message_live(browser, app, base_url, page, editor_url, artefacts)
        await rollups_drained(db_engine)  # dashboards lag the engine by the drain
        await see_the_analytics(page, shot)
        await subscribe_a_webhook(page, shot)


@asynccontextmanager
async def serving(settings: Settings, browser: Browser) -> AsyncIterator[tuple[FastAPI, str]]:
    """The API on a live port; the browser's contexts closed before it stops (it waits for open
    streams, such as the Try panel's events)."""
    async with live_server(settings) as served:
        try:
            yield served
        finally:
            for context in browser.contexts:
                await context.close()


async def test_members_api_keys_and_bot_settings_in_the_browser(
    api: httpx.AsyncClient, test_settings: Settings, browser: Browser, artefacts: Path
) -> None:
    async with serving(test_settings, browser) as (_, base_url):
        page = await new_page(browser)
        await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        shot = Screenshots(page, artefacts)
        await sign_up(page, base_url)
        await invite_change_role_and_remove(browser, page, base_url, shot)
        await create_use_and_revoke_an_api_key(page, base_url, shot)
        await change_bot_settings_and_delete_the_bot(page, shot)


async def invite_change_role_and_remove(
    browser: Browser, page: Page, base_url: str, shot: Screenshots
) -> None:
    """The owner invites an agent (a one-time link, copied), who joins through it; the owner makes
    them an admin, then removes them."""
    await page.get_by_role("link", name="Members").click()
    me = page.locator(f'[data-testid="member"][data-email="{EMAIL}"]')
    await expect(me).to_contain_text("you")
    await expect(me.get_by_label(f"Role: {EMAIL}")).to_have_value("owner")
    form = page.get_by_role("form", name="Invite")
    await form.get_by_label("Email").fill(AGENT)
    await form.get_by_label("Role").select_option("agent")
    await form.get_by_role("button", name="Invite").click()
    invitation = page.get_by_test_id("invitation-link")
    await expect(invitation).to_contain_text(f"send it to {AGENT}")
    link = await invitation.locator("code").inner_text()
    await invitation.get_by_role("button", name="Copy").click()
    await expect(invitation.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == link
    await shot("13-members-invited")

    agent = await new_page(browser)
    await agent.goto(link)
    await expect(agent.get_by_role("heading", name="Accept the invitation")).to_be_visible()
    await Screenshots(agent, shot.folder)("13-invitation")
    await agent.get_by_label("Password").fill("agent password 42")
    await agent.get_by_label("Your name").fill("Ana Agent")
    await agent.get_by_role("button", name="Accept the invitation").click()
    await expect(agent.get_by_role("heading", name="Bots")).to_be_visible()
    await expect(agent.get_by_role("form", name="Switch organization")).to_contain_text("Bakery")
    await agent.get_by_role("link", name="Members").click()  # agents read the team, no more
    mine = agent.locator(f'[data-testid="member"][data-email="{AGENT}"]')
    await expect(mine.get_by_test_id("member-role")).to_have_text("Agent")
    await expect(agent.get_by_role("button", name="Invite")).to_have_count(0)
    await expect(agent.get_by_role("button", name="Remove")).to_have_count(0)
    await agent.context.close()

    await page.reload()
    row = page.locator(f'[data-testid="member"][data-email="{AGENT}"]')
    await expect(row).to_contain_text("Ana Agent")
    role = row.get_by_label(f"Role: {AGENT}")
    await expect(role).to_have_value("agent")
    await role.select_option("admin")
    await page.reload()
    await expect(role).to_have_value("admin")
    await row.get_by_role("button", name="Remove").click()
    await row.get_by_role("button", name="Confirm").click()
    await expect(row).to_have_count(0)
    await expect(page.get_by_test_id("member")).to_have_count(1)
    await at_tablet_width(page, shot, "13-members-768", me)


async def create_use_and_revoke_an_api_key(page: Page, base_url: str, shot: Screenshots) -> None:
    """The key is shown once (and copied); it works until it is revoked; the list never shows it."""
    await page.get_by_role("link", name="API keys").click()
    await expect(page.get_by_text("No API keys yet.")).to_be_visible()
    await page.get_by_label("Key name").fill("CRM sync")
    await page.get_by_role("button", name="Create").click()
    shown = page.get_by_test_id("api-key-secret")
    secret = await shown.locator("code").inner_text()
    assert secret.startswith("bbk_")
    await shown.get_by_role("button", name="Copy").click()
    await expect(shown.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    row = page.get_by_test_id("api-key")
    await expect(row).to_contain_text("CRM sync")
    await expect(row).to_contain_text("Never")
    prefix = (await row.locator("code").inner_text()).rstrip("…")
    assert secret.startswith(prefix) and len(prefix) < len(secret)
    await shot("14-api-key-created")

    query = {"query": "{ apiKeys { name } }"}
    async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": secret}) as http:
        answer = (await http.post("/graphql", json=query)).json()
        assert answer["data"]["apiKeys"][0]["name"] == "CRM sync", answer
        await shown.get_by_role("button", name="I stored it").click()
        await page.reload()
        await expect(row).not_to_contain_text("Never")  # last used: just now
        assert secret not in await page.content()
        await row.get_by_role("button", name="Revoke").click()
        await row.get_by_role("button", name="Confirm").click()
        await expect(row).to_have_attribute("data-revoked", "true")
        await expect(row).to_contain_text("Revoked")
        await expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
        refused = (await http.post("/graphql", json=query)).json()
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", refused
    await shot("15-api-key-revoked")
    await page.get_by_label("Language").select_option("es")
    await expect(page.get_by_role("heading", name="Claves de API")).to_be_visible()
    await expect(row).to_contain_text("Revocada")
    await shot("15-api-keys-es")
    await page.get_by_label("Idioma").select_option("en")


async def build_with_the_keyboard(page: Page, shot: Screenshots) -> None:
    """No pointer: palette buttons add nodes with Enter, focus is visible, a canvas node is
    selected with Enter, its text typed, its handle connected from the property panel; the same
    editor fits a 768 px tablet."""
    palette = page.get_by_test_id("palette-message")
    await palette.focus()
    await page.keyboard.press("Tab")
    focused = page.get_by_test_id("palette-question")
    await expect(focused).to_be_focused()
    outline = await focused.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline == "solid"
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Enter")
    await page.get_by_test_id("palette-end").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("node-end-1")).to_be_visible()
    await page.get_by_test_id("node-message-1").locator("..").focus()
    await page.keyboard.press("Enter")
    await page.locator("#prop-message-1-content").focus()
    await page.keyboard.type("Hello from the keyboard")
    await page.get_by_role("group", name="Connections").get_by_label("default →").focus()
    await page.keyboard.press("ArrowDown")  # "— (not connected)" → end-1, the only other node
    await expect(page.locator('[data-id="e-message-1-default-end-1"]')).to_have_count(1)
    await saved(page)
    await expect(page.get_by_test_id("problems")).to_contain_text("No problems")
    await expect(page.get_by_test_id("node-message-1")).to_contain_text("Hello from the keyboard")
    await at_tablet_width(page, shot, "17-editor-768", page.get_by_test_id("node-end-1"))


async def at_tablet_width(page: Page, shot: Screenshots, name: str, shown: Locator) -> None:
    """The page reloaded 768 px wide shows `shown` without scrolling sideways (and passes axe)."""
    await page.set_viewport_size({"width": 768, "height": 1024})
    await page.reload()
    await expect(shown).to_be_in_viewport()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 768
    await shot(name)
    await page.set_viewport_size({"width": 1440, "height": 1000})


async def change_bot_settings_and_delete_the_bot(page: Page, shot: Screenshots) -> None:
    """Rename the bot, pick its default flow and inactivity timeout (kept after a reload), then
    delete it, which needs its name typed."""
    await page.get_by_role("link", name="Bots").click()
    await page.get_by_label("Bot name").fill("Bakery bot")
    await page.get_by_role("button", name="Create").click()
    await page.get_by_label("Flow name").fill("Greeting")
    await page.get_by_role("button", name="New flow").click()
    await build_with_the_keyboard(page, shot)
    await page.go_back()
    await page.get_by_role("link", name="Bot settings").click()
    form = page.get_by_role("form", name="Bot settings")
    await expect(form.get_by_label("Bot name")).to_have_value("Bakery bot")
    await form.get_by_label("Bot name").fill("Bread bot")
    await form.get_by_label("Description").fill("Orders and opening hours")
    await form.get_by_label("Default flow").select_option(label="Greeting")
    await form.get_by_label("Inactivity timeout (minutes)").fill("30")
    await form.get_by_label("Sensitive data").check()
    await form.get_by_role("button", name="Save").click()
    await expect(page.get_by_test_id("settings-notice")).to_have_text("Settings saved")
    await page.reload()
    await expect(form.get_by_label("Bot name")).to_have_value("Bread bot")
    await expect(form.get_by_label("Description")).to_have_value("Orders and opening hours")
    await expect(form.get_by_label("Inactivity timeout (minutes)")).to_have_value("30")
    await expect(form.get_by_label("Sensitive data")).to_be_checked()
    await shot("16-bot-settings")
    await page.get_by_role("link", name="← Bread bot").click()
    await expect(page.get_by_role("heading", name="Bread bot")).to_be_visible()
    await expect(page.locator(".card", has_text="Greeting")).to_contain_text("Default flow")

    await page.get_by_role("link", name="Bot settings").click()
    danger = page.get_by_role("form", name="Delete bot")
    delete = danger.get_by_role("button", name="Delete bot")
    await danger.get_by_role("textbox").fill("Bakery bot")
    await expect(delete).to_be_disabled()
    await danger.get_by_role("textbox").fill("Bread bot")
    await delete.click()
    await expect(page.get_by_role("heading", name="Bots")).to_be_visible()
    await expect(page.get_by_text("No bots yet.")).to_be_visible()


async def see_a_new_message_live(
    browser: Browser, app: FastAPI, base_url: str, page: Page, editor_url: str, artefacts: Path
) -> None:
    """A second browser context (tablet width) shows the contact's next message within 1 s."""
    contact = (await page.get_by_test_id("conversation-row").first.inner_text()).split()[0]
    second = await new_page(browser, 768, 1024)  # tablet width
    await log_in(second, base_url)
    live = app.state.platform.live_updates
    before = live.subscriber_count()
    await second.goto(page.url)
    await expect(second.get_by_test_id("inbox-chat")).to_contain_text("Hello, a person here")

    async def subscribed() -> bool:
        return live.subscriber_count() >= before + 4  # bot list (2) and conversation (2)

    await wait_for(subscribed, what="the second console's subscriptions")
    channel = await web_channel_id(page)
    async with httpx.AsyncClient(base_url=base_url) as http:
        sent = time.monotonic()
        message = {"contact_id": contact, "text": "Is there rye bread?"}
        posted = await http.post(f"/channels/web/{channel}/messages", json=message)
        assert posted.status_code == 202, posted.text
        chat = second.get_by_test_id("inbox-chat")
        await expect(chat).to_contain_text("Is there rye bread?", timeout=1_000)
        elapsed = time.monotonic() - sent
        print(f"live message shown after {elapsed:.3f} s")
        assert elapsed < 1.0
    tablet = Screenshots(second, artefacts)
    await tablet("08-inbox-live-tablet")
    await second.goto(editor_url)
    await expect(second.get_by_test_id("node-button-1")).to_be_visible()
    await tablet("09-editor-tablet")


async def see_the_analytics(page: Page, shot: Screenshots) -> None:
    """The tiles count what the scenario did (in: "hola", "Yes", "Is there rye bread?"; out: the
    bot's three messages and the agent's answer) and the funnel paints the one run on the flow."""
    await page.get_by_role("link", name="Analytics").click()
    tiles = {
        "messagesIn": "3",
        "messagesOut": "4",
        "uniqueContacts": "1",
        "conversationsHandedOff": "1",
    }
    for field, count in tiles.items():
        tile = page.get_by_test_id(f"tile-{field}")
        await expect(tile.locator(".tile-value")).to_have_text(count)
        await expect(tile.locator(".trend.up")).to_have_text("▲ from 0")  # nothing the week before
    await expect(page.get_by_test_id("live-waiting").locator(".tile-value")).to_have_text("0")
    await expect(page.get_by_test_id("live-messages").locator(".tile-value")).to_have_text("7")
    await expect(page.get_by_test_id("messages-chart").locator("circle")).to_have_count(14)
    await expect(page.get_by_test_id("funnel-summary")).to_contain_text("Runs: 1 · Completed: 1")
    for node in ("message-1", "button-1", "message-2", "end-1"):
        await expect(page.get_by_test_id(f"reached-{node}")).to_have_text("1")
        await expect(page.get_by_test_id(f"dropped-{node}")).to_have_text("0")
    visited = page.get_by_test_id("funnel").locator(".react-flow__edge.visited")
    await expect(visited).to_have_count(3)
    await expect(visited.locator(".react-flow__edge-text").first).to_have_text("1")
    async with page.expect_download() as download:
        await page.get_by_role("button", name="report.csv").click()
    saved_csv = await (await download.value).path()
    assert re.search(r"\bmessages_in,3\b", await asyncio.to_thread(Path(saved_csv).read_text))
    await expect(page.get_by_test_id("questions")).to_contain_text("Yes (1)")
    await shot("10-analytics")
    await page.set_viewport_size({"width": 768, "height": 1024})
    await page.reload()  # the canvas fits the flow to the width it loads at
    await expect(page.get_by_test_id("reached-end-1")).to_be_visible()
    await shot("10-analytics-tablet")
    await page.set_viewport_size({"width": 1440, "height": 1000})
    await page.get_by_label("Language").select_option("es")
    await expect(page.get_by_test_id("tile-messagesIn")).to_contain_text("Mensajes recibidos")
    await shot("11-analytics-es")
    await page.get_by_label("Idioma").select_option("en")


async def subscribe_a_webhook(page: Page, shot: Screenshots) -> None:
    """Create an endpoint (its secret shown once signs the deliveries), send a test event that the
    receiver refuses, see the failed attempt in the log, redeliver it and see it succeed."""
    receiver = Receiver()
    try:
        receiver.script = [500]
        await page.get_by_role("link", name="Webhooks").click()
        await page.get_by_label("URL").fill(receiver.url)
        await page.get_by_label("Description").fill("CRM sync")
        await page.get_by_role("button", name="Create").click()
        secret = await page.get_by_test_id("webhook-secret").locator("code").inner_text()
        assert secret.startswith("whsec_")
        receiver.secrets.append(secret)
        endpoint = page.get_by_test_id("webhook-endpoint")
        await expect(endpoint.get_by_test_id("endpoint-state")).to_have_text("Active")
        await endpoint.get_by_role("button", name="Send test").click()
        await endpoint.get_by_role("button", name="Delivery log").click()
        delivery = page.get_by_test_id("delivery").first
        await expect(delivery).to_contain_text("500")
        await delivery.get_by_role("button", name="Redeliver").click()
        # the log polls every 2 s and the attempt is a Temporal activity: more than Playwright's
        # default 5 s on a loaded machine (it once took longer right after the chaos tests)
        await expect(delivery).to_have_attribute("data-status", "succeeded", timeout=15_000)
        await expect(delivery).to_contain_text("Succeeded")
        await expect(endpoint.get_by_test_id("stat-succeeded")).to_have_text("1")
        events = receiver.events()
        assert len(events) >= 2 and len({event["id"] for event in events}) == 1
        assert all(event["valid"] == [True] for event in events)
        assert events[0]["body"]["type"] == "webhook.test"
        await shot("12-webhooks")
        await page.get_by_role("button", name="I stored it").click()
        await page.reload()
        await expect(endpoint).to_be_visible()
        assert secret not in await page.content()
    finally:
        receiver.close()


async def sign_up_and_create_a_bot(page: Page, base_url: str, shot: Screenshots) -> None:
    """Sign up, switch the language both ways, create a bot with a web and a WhatsApp channel."""
    await sign_up(page, base_url, shot)
    await page.get_by_label("Language").select_option("es")
    await expect(page.get_by_role("link", name="Bandeja")).to_be_visible()
    await shot("02-bots-es")
    await page.get_by_label("Idioma").select_option("en")
    await shot("02-bots")

    await page.get_by_label("Bot name").fill("Bakery bot")
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_role("heading", name="Bakery bot")).to_be_visible()
    await page.get_by_role("button", name="Connect", exact=True).click()
    await expect(page.get_by_test_id("channel-WEB")).to_be_visible()
    await page.get_by_label("Kind").select_option("WHATSAPP_CLOUD")
    await page.get_by_label("Phone number ID").fill("1234567890")
    secrets = {
        "Access token": "EAAG-very-secret",
        "App secret": "app-s3cret",
        "Verify token": "verify-me-please",
    }
    for label, secret in secrets.items():
        await page.get_by_label(label).fill(secret)
    await page.get_by_role("button", name="Connect", exact=True).click()
    whatsapp = page.get_by_test_id("channel-WHATSAPP_CLOUD")
    await expect(whatsapp).to_contain_text("/channels/whatsapp/")
    await expect(whatsapp).to_contain_text("Secrets stored (never shown)")
    content = await page.content()
    assert not [secret for secret in secrets.values() if secret in content]
    await shot("03-bot-channels")


async def build_and_publish_a_flow(page: Page, shot: Screenshots) -> None:
    """message → button (one option) → message → end, dragged, wired and filled on the canvas;
    refused while the first message is empty, published once it is not."""
    await page.get_by_label("Flow name").fill("Greeting")
    await page.get_by_label("Keywords (comma separated)").fill("hola")
    await page.get_by_role("button", name="New flow").click()
    await expect(page.get_by_test_id("palette-carousel")).to_be_visible()  # the registry
    await drop_node(page, "message", 40, 30)
    await drop_node(page, "button", 340, 30)
    await drop_node(page, "message", 40, 260)
    await drop_node(page, "end", 340, 260)
    await edit(page, "button-1", "content", "Do you like bread?")
    await page.get_by_role("button", name="Add option").click()
    await page.get_by_label("Label").fill("Yes")
    await connect(page, "message-1", "default", "button-1")
    await connect(page, "button-1", "1", "message-2")
    await connect(page, "message-2", "default", "end-1")
    await page.locator("#prop-button-1-variable").fill("likes_bread")
    await type_with_variable_hints(page)

    await saved(page)
    first = page.get_by_test_id("node-message-1")
    await expect(first).to_have_class(re.compile(r"\bhas-problems\b"))
    await expect(first.locator(".node-problems")).to_have_text("data.content: Field required")
    for fine in ("button-1", "message-2", "end-1"):
        problems = page.get_by_test_id(f"node-{fine}").locator(".node-problems")
        await expect(problems).to_have_count(0)
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_test_id("editor-notice")).to_contain_text("Publish refused")
    await shot("04-editor-invalid")

    await edit(page, "message-1", "content", "Welcome to the bakery!")
    await saved(page)
    await expect(page.get_by_test_id("problems")).to_contain_text("No problems")
    await page.get_by_label("Version message").fill("first version")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_test_id("editor-notice")).to_contain_text("Published version v1")
    await expect(page.locator(".versions")).to_contain_text("first version")
    await undo_redo_and_roll_back(page, shot)
    await shot("05-editor-published")


async def type_with_variable_hints(page: Page) -> None:
    """After `{{` the text field suggests the flow's variables (the button's `likes_bread`, the
    contact's fields); typing narrows them, Enter inserts the chosen one with its `}}`."""
    await page.get_by_test_id("node-message-2").click()
    content = page.locator("#prop-message-2-content")
    await content.press_sequentially("Great, see you soon {{")
    hints = page.get_by_test_id("variable-hints")
    await expect(hints.get_by_role("option", name="likes_bread button-1")).to_be_visible()
    await expect(hints.get_by_role("option").first).to_have_attribute("aria-selected", "true")
    await expect(hints).to_contain_text("contact.name")
    await content.press_sequentially("contact.n")
    await expect(hints.get_by_role("option")).to_have_text(["contact.name contact"])
    await page.keyboard.press("Enter")
    await expect(hints).to_have_count(0)
    await expect(content).to_have_value("Great, see you soon {{contact.name}}")
    await content.press_sequentially("!")
    await expect(content).to_have_value("Great, see you soon {{contact.name}}!")


async def undo_redo_and_roll_back(page: Page, shot: Screenshots) -> None:
    """Undo and redo the last edit; publish changes as v2 (message-1's text, end-1 replaced by
    end-2), see them on the canvas, roll back to v1 (v3)."""
    summary = page.get_by_test_id("node-message-1").locator(".bb-summary")
    await page.get_by_role("button", name="Undo").click()
    await expect(summary).to_have_text("")
    await page.get_by_role("button", name="Redo").click()
    await expect(summary).to_have_text("Welcome to the bakery!")
    await edit(page, "message-1", "content", "Welcome! Fresh bread daily.")
    await drop_node(page, "end", 640, 260)
    await connect(page, "message-2", "default", "end-2")  # replaces the edge to end-1
    await page.get_by_test_id("node-end-1").click()
    await page.get_by_role("button", name="Delete node").click()
    await saved(page)
    await page.get_by_label("Version message").fill("second")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_test_id("editor-notice")).to_contain_text("Published version v2")
    await see_the_versions_diff_on_the_canvas(page, shot)
    await page.get_by_role("button", name="Roll back").click()
    await expect(page.get_by_test_id("editor-notice")).to_contain_text("Published version v3")


async def see_the_versions_diff_on_the_canvas(page: Page, shot: Screenshots) -> None:
    """v1 → v2 on one read-only canvas: the new end node and edge green, the old ones red, the
    edited message amber with what changed; the rest as it was; a legend names the colours."""
    await page.get_by_role("button", name="Changes since previous").click()
    view = page.get_by_test_id("diff-view")
    await expect(view.get_by_role("heading")).to_have_text("v1 → v2")
    legend = view.get_by_role("list", name="Legend").get_by_role("listitem")
    await expect(legend).to_have_text(["added", "removed", "changed", "unchanged"])
    states = {
        "end-2": "added",
        "end-1": "removed",
        "message-1": "changed",
        "button-1": "unchanged",
        "message-2": "unchanged",
    }
    for node, state in states.items():
        await expect(view.get_by_test_id(f"node-{node}")).to_have_attribute("data-diff", state)
    await expect(view.get_by_test_id("node-message-1").locator(".diff-badge")).to_have_text(
        "changed: data"
    )
    await expect(view.locator(".react-flow__edge.diff-added")).to_have_count(1)
    await expect(view.locator(".react-flow__edge.diff-removed")).to_have_count(1)
    await expect(view.locator(".react-flow__edge.diff-unchanged")).to_have_count(2)
    diff = page.get_by_test_id("version-diff")
    await expect(diff).to_contain_text("message-1 (data)")
    await expect(diff).to_contain_text("added: end-2, e-message-2-default-end-2")
    await shot("05-versions-diff")
    await page.get_by_role("button", name="Back to the draft").click()
    await expect(view).to_have_count(0)
    await expect(page.get_by_test_id("node-end-2")).to_be_visible()


async def try_it(page: Page, shot: Screenshots) -> None:
    """The bot greets and asks; the run waits at the button node, highlighted; then it answers."""
    await page.get_by_placeholder("Type a message").fill("hola")
    await page.get_by_role("button", name="Send").click()
    chat = page.get_by_test_id("try-chat")
    await expect(chat.get_by_text("Welcome to the bakery!", exact=True)).to_be_visible()  # v3 = v1
    await expect(chat).to_contain_text("Do you like bread?")
    await expect(page.get_by_test_id("node-button-1")).to_have_class(re.compile(r"\bactive\b"))
    await shot("06-try-it")
    await chat.get_by_role("button", name="Yes").click()
    await expect(chat).to_contain_text("Great, see you soon")


async def take_over_in_the_inbox(page: Page, shot: Screenshots) -> None:
    await page.get_by_role("link", name="Inbox").click()
    await page.get_by_test_id("conversation-row").first.click()
    chat = page.get_by_test_id("inbox-chat")
    await expect(chat).to_contain_text("Welcome to the bakery!")
    await page.get_by_role("button", name="Take over").click()
    await expect(page.get_by_test_id("conversation-status")).to_have_text("With an agent")
    await page.get_by_placeholder("Answer").fill("Hello, a person here")
    await page.get_by_role("button", name="Answer").click()
    await expect(chat).to_contain_text("Hello, a person here")
    await page.get_by_label("Tags").fill("vip, bread")
    await page.get_by_role("button", name="Save tags").click()
    await expect(page.get_by_test_id("conversation-row").first).to_contain_text("vip")
    await page.get_by_label("Add note").fill("Wants rye on Fridays")
    await page.get_by_role("button", name="Add note").click()
    await expect(page.locator(".notes")).to_contain_text("Wants rye on Fridays")
    await shot("07-inbox-taken-over")


async def sign_up(page: Page, base_url: str, shot: Screenshots | None = None) -> None:
    await page.goto(f"{base_url}/console/")
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Organization").fill("Bakery")
    if shot:
        await shot("01-sign-up")
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_role("heading", name="Bots")).to_be_visible()


async def log_in(page: Page, base_url: str) -> None:
    await page.goto(f"{base_url}/console/")
    await page.get_by_role("button", name="I already have an account").click()
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Bots")).to_be_visible()


async def web_channel_id(page: Page) -> str:
    return await page.evaluate(
        """async () => {
          const s = JSON.parse(localStorage.getItem('botbuilder.session'));
          const r = await fetch('/graphql', {method: 'POST', headers: {'Content-Type':
            'application/json', Authorization: 'Bearer ' + s.accessToken}, body: JSON.stringify(
            {query: '{ bots { channels { id kind } } }'})});
          return (await r.json()).data.bots[0].channels.find(c => c.kind === 'WEB').id;
        }"""
    )


class Screenshots:
    """Full-page PNGs named by step; each page photographed is also checked by axe."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page, self.folder = page, folder

    async def __call__(self, name: str) -> None:
        await self.page.screenshot(path=self.folder / f"{name}.png", full_page=True)
        await assert_accessible(self.page, name)


async def assert_accessible(page: Page, name: str) -> None:
    """No violation of axe-core's WCAG 2.1 A/AA rules or its best practices, whatever the impact,
    on the page as it is (the axe-core bundled in the axe-playwright-python package): labels,
    names, contrast, roles, headings, landmarks ..."""
    await page.evaluate(AXE_SCRIPT)
    violations = await page.evaluate(
        """async () => (await axe.run(document, {
            runOnly: {type: 'tag',
                      values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
            resultTypes: ['violations'],
        })).violations
          .map(v => `${v.id} (${v.impact}): ${v.help}; ` + v.nodes.slice(0, 3)
            .map(n => n.target.join(' ') + ' ' + n.failureSummary).join(' | '))"""
    )
    assert not violations, f"{name}: " + "\n".join(violations)
