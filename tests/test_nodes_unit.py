"""Every node type's behaviour, run through an in-memory RunContext (no Temporal)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from flowlang.asking.answers import AnswerCheck, InvalidAnswer, check_answer
from flowlang.node_base import HttpRequest, HttpResponse, NodeFailed
from flowlang.nodes import REGISTRY, UnknownNodeType, get_node_type
from flowlang.templates import default_templates
from models.messages import InboundMessage, OutboundMessage
from tests.fake_run_context import FakeRunContext

MENU = {
    "content": "¿Cómo calificarías tu experiencia?",
    "variable": "rating",
    "options": [
        {"id": "5", "label": "⭐⭐⭐⭐⭐ Excelente"},
        {"id": "4", "label": "⭐⭐⭐⭐ Buena"},
        {"id": "1", "label": "⭐ Muy mala"},
    ],
}


def button_reply(payload: str, text: str = "") -> InboundMessage:
    return InboundMessage(provider_message_id="b1", kind="button", payload=payload, text=text)


def test_registry_knows_every_node_type_of_the_issue() -> None:
    expected = {
        "start",
        "message",
        "question",
        "button",
        "quickReply",
        "list",
        "carousel",
        "form",
        "media",
        "file",
        "audio",
        "video",
        "location",
        "contact",
        "delay",
        "condition",
        "setVariable",
        "api",
        "webhook",
        "ai",
        "email",
        "sms",
        "payment",
        "crm",
        "transfer",
        "end",
        "waitEvent",
    }
    assert set(REGISTRY) == expected
    with pytest.raises(UnknownNodeType, match="unknown node type 'hologram'"):
        get_node_type("hologram")


async def test_message_renders_its_template() -> None:
    ctx = FakeRunContext(variables={"order": {"id": 42}})
    handle = await ctx.run_node(
        "message", {"content": "Hola {{contact.name}}, pedido {{order.id}}"}
    )
    assert handle == "default"
    assert ctx.sent == [OutboundMessage(kind="text", text="Hola Ana, pedido 42")]


async def test_question_stores_the_answer_everywhere() -> None:
    ctx = FakeRunContext(replies=["  Ana López "])
    handle = await ctx.run_node("question", {"content": "¿Nombre?", "variable": "name"}, "getName")
    assert handle == "default"
    assert ctx.variables == {
        "name": "Ana López",
        "getName": "Ana López",
        "last_reply": "  Ana López ",
    }
    assert ctx.waits == [None]


async def test_question_reprompts_then_accepts_a_valid_number() -> None:
    ctx = FakeRunContext(replies=["muchos", "3,5"])
    data = {"content": "¿Cuántos?", "variable": "n", "validation": {"type": "number"}}
    assert await ctx.run_node("question", data) == "default"
    assert ctx.variables["n"] == 3.5
    assert ctx.texts == ["¿Cuántos?", "Por favor, responde con un número.\n\n¿Cuántos?"]


async def test_question_gives_up_after_max_attempts_with_the_retry_message() -> None:
    ctx = FakeRunContext(replies=["a", "b"])
    data = {
        "content": "¿Email?",
        "validation": "email",
        "maxAttempts": 2,
        "retryMessage": "Eso no es un email, {{contact.name}}.",
    }
    assert await ctx.run_node("question", data, "q") == "invalid"
    assert ctx.texts == ["¿Email?", "Eso no es un email, Ana.\n\n¿Email?"]
    assert "q" not in ctx.variables
    assert ctx.variables["last_reply"] == "b"


async def test_question_custom_validation_message() -> None:
    ctx = FakeRunContext(replies=["123", "28001"])
    data = {
        "content": "¿CP?",
        "validation": {
            "type": "regex",
            "pattern": r"\d{5}",
            "message": "Cinco dígitos, por favor.",
        },
    }
    assert await ctx.run_node("question", data, "cp") == "default"
    assert ctx.texts[1] == "Cinco dígitos, por favor.\n\n¿CP?"
    assert ctx.variables["cp"] == "28001"


async def test_question_timeout_leaves_by_timeout() -> None:
    ctx = FakeRunContext(replies=[None])
    assert await ctx.run_node("question", {"content": "¿Sigues ahí?", "timeout": 300}) == "timeout"
    assert ctx.waits == [timedelta(minutes=5)]


@pytest.mark.parametrize(
    ("check", "answer", "value"),
    [
        ("text", " hola ", "hola"),
        ("number", "42", 42),
        ("number", "-1.5", -1.5),
        ("email", "Ana@Example.COM", "ana@example.com"),
        ("phone", "+34 600-11 22 33", "+34600112233"),
        ("date", "2025-03-09", "2025-03-09"),
        ("date", "9/3/2025", "2025-03-09"),
        ({"type": "choice", "choices": ["Mañana", "Tarde"]}, "tarde", "Tarde"),
        ({"type": "choice", "choices": ["Mañana", "Tarde"]}, "1", "Mañana"),
        ({"type": "choice", "choices": ["Mañana", "Tarde"]}, "MANANA", "Mañana"),
        ({"type": "regex", "pattern": "[A-Z]{3}-\\d+"}, "ABC-12", "ABC-12"),
    ],
)
def test_answer_checks_accept(check: object, answer: str, value: object) -> None:
    assert check_answer(AnswerCheck.model_validate(check), answer) == value


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        ("text", "   "),
        ("number", "doce"),
        ("email", "ana@localhost"),
        ("email", "a b@x.com"),
        ("phone", "12345"),
        ("date", "31/02/2025"),
        ("date", "mañana"),
        ({"type": "choice", "choices": ["Sí", "No"]}, "3"),
        ({"type": "regex", "pattern": "\\d{5}"}, "280011"),
    ],
)
def test_answer_checks_refuse(check: object, answer: str) -> None:
    with pytest.raises(InvalidAnswer):
        check_answer(AnswerCheck.model_validate(check), answer)


def test_answer_check_needs_its_parameters() -> None:
    with pytest.raises(ValidationError, match="needs a `pattern`"):
        AnswerCheck.model_validate({"type": "regex"})


@pytest.mark.parametrize(
    ("reply", "handle", "label"),
    [
        (button_reply("4", "⭐⭐⭐⭐ Buena"), "4", "⭐⭐⭐⭐ Buena"),  # payload id
        ("1", "5", "⭐⭐⭐⭐⭐ Excelente"),  # typed number = position in the message
        ("muy MALA", "1", "⭐ Muy mala"),  # label, ignoring case and emoji
    ],
)
async def test_button_matches_payload_number_or_label(
    reply: str | InboundMessage, handle: str, label: str
) -> None:
    ctx = FakeRunContext(replies=[reply])
    assert await ctx.run_node("button", MENU, "survey") == handle
    assert ctx.variables["rating"] == label
    assert ctx.variables["survey"] == label
    assert [b.id for b in ctx.sent[0].buttons] == ["5", "4", "1"]
    assert ctx.sent[0].kind == "buttons"


async def test_button_reprompts_on_an_unknown_answer() -> None:
    ctx = FakeRunContext(replies=["quizás", "buena"])
    assert await ctx.run_node("button", MENU) == "4"
    assert ctx.sent[1].text == "Por favor, elige una de las opciones.\n\n" + MENU["content"]
    assert len(ctx.sent[1].buttons) == 3


async def test_button_gives_up_and_times_out() -> None:
    ctx = FakeRunContext(replies=["x", "y", "z"])
    assert await ctx.run_node("button", MENU) == "invalid"
    ctx = FakeRunContext(replies=[None])
    assert await ctx.run_node("button", {**MENU, "timeout": 10}) == "timeout"


async def test_quick_reply_behaves_like_buttons_and_numbers_missing_ids() -> None:
    ctx = FakeRunContext(replies=["no"])
    data = {"content": "¿Seguimos?", "options": ["Sí", "No"]}
    assert await ctx.run_node("quickReply", data) == "2"
    assert ctx.texts[0] == "¿Seguimos?\n1. Sí\n2. No"


async def test_list_from_the_seeds_flat_options() -> None:
    ctx = FakeRunContext(replies=["examenes"])
    data = {
        "content": "¿Qué servicio?",
        "variable": "service",
        "options": [{"label": "Consulta General"}, {"label": "Exámenes"}],
    }
    assert await ctx.run_node("list", data) == "2"
    assert ctx.variables["service"] == "Exámenes"
    sent = ctx.sent[0]
    assert sent.kind == "list" and sent.button_label == "Ver opciones"
    assert [(r.id, r.title) for r in sent.sections[0].rows] == [
        ("1", "Consulta General"),
        ("2", "Exámenes"),
    ]


async def test_list_with_sections_numbers_rows_across_sections() -> None:
    ctx = FakeRunContext(
        replies=[InboundMessage(provider_message_id="l", kind="list", payload="3")]
    )
    data = {
        "content": "Menú",
        "buttonLabel": "Abrir",
        "sections": [
            {"title": "Bebidas", "rows": [{"id": "tea", "title": "Té"}, {"title": "Café"}]},
            {"title": "Comida", "rows": [{"title": "Tarta", "description": "de queso"}]},
        ],
    }
    assert await ctx.run_node("list", data) == "3"
    assert ctx.texts[0] == "Menú\nBebidas\n1. Té\n2. Café\nComida\n3. Tarta — de queso"
    assert get_node_type("list").handles(get_node_type("list").parse(data))[3:] == ["tea", "2", "3"]


async def test_carousel_waits_for_a_card_button() -> None:
    catalogue = default_templates()[3].definition.nodes[1].data
    ctx = FakeRunContext(replies=["ropa"])
    assert await ctx.run_node("carousel", {**catalogue, "variable": "category"}) == "show_clothing"
    assert ctx.variables["category"] == "Ropa"
    cards = ctx.sent[0].cards
    assert [c.image_url for c in cards] == [
        "https://example.com/electronics.jpg",
        "https://example.com/clothing.jpg",
    ]
    assert [b.id for c in cards for b in c.buttons] == ["show_electronics", "show_clothing"]
    ctx = FakeRunContext(replies=[button_reply("show_electronics")])
    assert await ctx.run_node("carousel", catalogue) == "show_electronics"


async def test_carousel_without_buttons_only_sends() -> None:
    ctx = FakeRunContext()
    assert await ctx.run_node("carousel", {"cards": [{"title": "Oferta"}]}) == "default"
    assert ctx.waits == [] and ctx.sent[0].cards[0].title == "Oferta"


async def test_form_asks_each_field_and_stores_them_together() -> None:
    ctx = FakeRunContext(replies=["Ana", "no-es-email", "ana@x.es", "-", "2"])
    data = {
        "content": "Completa el formulario:",
        "variable": "lead",
        "fields": [
            {"name": "name", "label": "Nombre", "required": True},
            {"name": "email", "label": "Email", "type": "email"},
            {"name": "company", "label": "Empresa", "required": False},
            {"name": "size", "label": "Tamaño", "options": ["Pequeña", "Grande"]},
        ],
    }
    assert await ctx.run_node("form", data, "f") == "default"
    lead = {"name": "Ana", "email": "ana@x.es", "company": None, "size": "Grande"}
    assert ctx.variables["lead"] == ctx.variables["f"] == lead
    assert ctx.variables["email"] == "ana@x.es"
    assert ctx.texts[:3] == ["Completa el formulario:", "Nombre", "Email"]
    assert ctx.texts[3].startswith("Por favor, escribe un correo")
    assert ctx.texts[4] == "Empresa (opcional: responde «-» para omitir)"
    assert ctx.texts[5] == "Tamaño\n1. Pequeña\n2. Grande"


async def test_form_timeout_keeps_what_was_answered() -> None:
    ctx = FakeRunContext(replies=["Ana", None])
    data = {"timeout": 60, "fields": [{"name": "a", "label": "A"}, {"name": "b", "label": "B"}]}
    assert await ctx.run_node("form", data, "f") == "timeout"
    assert ctx.variables["f"] == {"a": "Ana"}


@pytest.mark.parametrize(
    ("data", "duration"),
    [
        ({"delay": 30}, timedelta(seconds=30)),
        ({"duration": {"value": 3, "unit": "days"}}, timedelta(days=3)),
        ({"duration": {"value": 2, "unit": "weeks"}, "delay": 1}, timedelta(weeks=2, seconds=1)),
    ],
)
async def test_delay_sleeps_durably(data: dict, duration: timedelta) -> None:
    ctx = FakeRunContext()
    assert await ctx.run_node("delay", data) == "default"
    assert ctx.sleeps == [duration]


def test_delay_must_be_positive_and_bounded() -> None:
    delay = get_node_type("delay")
    for data in ({}, {"delay": 0}, {"duration": {"value": 60, "unit": "weeks"}}):
        with pytest.raises(ValidationError):
            delay.parse(data)


async def test_condition_branches() -> None:
    ctx = FakeRunContext(variables={"age": "17"})
    assert await ctx.run_node("condition", {"condition": "{{age}} >= 18"}) == "false"
    ctx.variables["age"] = "18"
    assert await ctx.run_node("condition", {"condition": "{{age}} >= 18"}) == "true"
    assert await ctx.run_node("condition", {}) == "default"


async def test_set_variable_from_template_expression_or_value() -> None:
    ctx = FakeRunContext(variables={"first": "Ana", "age": 20})
    await ctx.run_node("setVariable", {"variable": "greeting", "value": "Hola {{first}}"})
    await ctx.run_node("setVariable", {"variable": "adult", "expression": "age >= 18"})
    await ctx.run_node("setVariable", {"variable": "count", "value": 0})
    assert ctx.variables["greeting"] == "Hola Ana"
    assert ctx.variables["adult"] is True
    assert ctx.variables["count"] == 0
    with pytest.raises(ValidationError, match="exactly one"):
        get_node_type("setVariable").parse({"variable": "x"})


API_DATA = {
    "apiUrl": "https://shop.test/orders/{{order_id}}",
    "apiMethod": "post",
    "apiHeaders": {"Authorization": "Bearer {{token}}"},
    "apiBody": {"phone": "{{contact.phone}}", "items": ["{{order_id}}"]},
    "mappings": {"first_item": "items.0.name", "total": "total"},
}


async def test_api_renders_the_request_and_maps_the_response() -> None:
    def shop(request: HttpRequest) -> HttpResponse:
        return HttpResponse(status=200, body={"total": 2, "items": [{"name": "Laptop"}]})

    ctx = FakeRunContext(http=shop, variables={"order_id": "A7", "token": "t0k"})
    assert await ctx.run_node("api", API_DATA) == "default"
    request = ctx.requests[0]
    assert (request.method, request.url) == ("POST", "https://shop.test/orders/A7")
    assert request.headers == {"Authorization": "Bearer t0k"}
    assert request.json_body == {"phone": "+34600", "items": ["A7"]}
    assert request.retries == 3
    assert ctx.variables["first_item"] == "Laptop" and ctx.variables["total"] == 2
    assert ctx.render("{{api.status}} {{api.response.items.0.name}}") == "200 Laptop"


async def test_api_failure_leaves_by_error() -> None:
    ctx = FakeRunContext(http=lambda _: NodeFailed("connection refused"), variables={})
    assert await ctx.run_node("api", {**API_DATA, "responseVariable": "shop"}) == "error"
    assert ctx.variables["shop"] == {
        "status": None,
        "response": None,
        "error": "connection refused",
    }
    assert "first_item" not in ctx.variables


async def test_api_error_status_leaves_by_error_with_the_response() -> None:
    ctx = FakeRunContext(http=lambda _: HttpResponse(status=404, body={"detail": "no"}))
    assert await ctx.run_node("api", {"apiUrl": "https://shop.test/x"}) == "error"
    assert ctx.variables["api"] == {
        "status": 404,
        "response": {"detail": "no"},
        "error": "HTTP 404",
    }


async def test_api_with_a_bad_rendered_url_fails_without_calling() -> None:
    ctx = FakeRunContext(http=lambda _: HttpResponse(status=200))
    assert await ctx.run_node("api", {"apiUrl": "{{nothing}}/path"}) == "error"
    assert ctx.requests == []


async def test_webhook_uses_the_seeds_fields() -> None:
    ctx = FakeRunContext(http=lambda _: HttpResponse(status=201, body="ok"))
    data = {"webhookUrl": "https://hooks.test/in", "body": "lead={{contact.name}}", "timeout": 2500}
    assert await ctx.run_node("webhook", data) == "default"
    request = ctx.requests[0]
    assert (request.method, request.body, request.json_body) == ("POST", "lead=Ana", None)
    assert request.timeout_seconds == 2.5
    assert ctx.variables["webhook"] == {"status": 201, "response": "ok", "error": None}


@pytest.mark.parametrize(("release", "handle"), [("resume", "default"), ("end", None)])
async def test_transfer_hands_off_then_resumes_or_ends(release: str, handle: str | None) -> None:
    ctx = FakeRunContext(hand_off_result=release)
    data = {
        "transferTo": "ventas",
        "transferType": "department",
        "transferMessage": "Te paso con {{dept}}",
    }
    ctx.variables["dept"] = "ventas"
    assert await ctx.run_node("transfer", data) == handle
    assert ctx.texts == ["Te paso con ventas"]
    request = ctx.hand_offs[0]
    assert (request.transfer_to, request.transfer_type) == ("ventas", "department")


async def test_end_says_goodbye_and_ends() -> None:
    ctx = FakeRunContext()
    assert await ctx.run_node("end", {"content": "¡Hasta pronto!"}) is None
    assert await ctx.run_node("end", {}) is None
    assert ctx.texts == ["¡Hasta pronto!"]


@pytest.mark.parametrize(
    ("node_type", "data", "kind"),
    [
        ("media", {"mediaUrl": "https://x.test/a.png", "caption": "Mira"}, "image"),
        ("media", {"url": "https://x.test/clip", "mediaType": "video/mp4"}, "video"),
        ("media", {"mediaUrl": "https://x.test/manual.pdf"}, "document"),
        ("file", {"fileUrl": "https://x.test/f", "fileName": "factura.pdf"}, "document"),
        ("audio", {"mediaUrl": "https://x.test/nota.ogg"}, "audio"),
        ("video", {"mediaUrl": "https://x.test/v.mp4", "content": "Tutorial"}, "video"),
    ],
)
async def test_media_nodes_send_the_right_kind(node_type: str, data: dict, kind: str) -> None:
    ctx = FakeRunContext()
    assert await ctx.run_node(node_type, data) == "default"
    media = ctx.sent[0].media
    assert (
        media is not None
        and media.kind == kind
        and media.url == data.get("mediaUrl", data.get("fileUrl", data.get("url")))
    )
    assert media.caption == data.get("caption", data.get("content"))


async def test_location_and_contact_cards() -> None:
    ctx = FakeRunContext()
    location = {"latitude": 40.4168, "longitude": -3.7038, "name": "Tienda", "address": "Sol 1"}
    await ctx.run_node("location", location)
    await ctx.run_node("contact", {"contactName": "Soporte", "contactPhone": "+34900"})
    assert ctx.sent[0].location is not None and ctx.sent[0].location.address == "Sol 1"
    assert ctx.texts[0].endswith("https://maps.google.com/?q=40.4168,-3.7038")
    assert ctx.texts[1] == "Soporte\n+34900"


async def test_start_node_leads_on() -> None:
    assert await FakeRunContext().run_node("start", {}) == "default"


async def test_customer_service_template_runs_to_the_menu_choice() -> None:
    ctx = FakeRunContext(replies=["3"])
    await ctx.run_flow(default_templates()[0].definition)
    assert ctx.visited == ["welcome", "menu"]
    assert ctx.texts[1].endswith("3. 💬 Hablar con agente\n4. 📝 Dejar comentario")
    assert ctx.variables["menu"] == "💬 Hablar con agente"


async def test_booking_survey_and_catalogue_templates_run() -> None:
    booking, survey, catalogue = (default_templates()[i].definition for i in (1, 2, 3))
    ctx = FakeRunContext(replies=["Ana López", "Seguimiento"])
    await ctx.run_flow(booking)
    assert ctx.variables["getName"] == "Ana López"
    assert ctx.variables["getService"] == "Seguimiento"
    ctx = FakeRunContext(replies=[button_reply("5")])
    await ctx.run_flow(survey)
    assert ctx.variables["rating"] == "⭐⭐⭐⭐⭐ Excelente"
    ctx = FakeRunContext(replies=["2"])
    await ctx.run_flow(catalogue)
    assert ctx.variables["categories"] == "Ropa"


def test_option_ids_must_be_unique_and_not_reserved() -> None:
    button = get_node_type("button")
    with pytest.raises(ValidationError, match="two options have the id '1'"):
        button.parse({"options": [{"id": "1", "label": "a"}, {"id": "1", "label": "b"}]})
    with pytest.raises(ValidationError, match="'timeout' is reserved"):
        button.parse({"options": [{"id": "timeout", "label": "Más tarde"}]})
