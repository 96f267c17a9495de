"""The `media` node (image, video, audio or document by URL, with a caption), and a factory
for the seeds' `file`, `audio` and `video` nodes, which are media nodes of a fixed kind.

The URL is `mediaUrl`, `fileUrl` or `url`; the caption `caption` or `content`; the kind (for
`media`) comes from `mediaType` / `fileType` (`image`, `video/mp4` …) or the URL's extension.
"""

from __future__ import annotations

from pydantic import model_validator

from flowlang.node_base import (
    DEFAULT,
    NodeData,
    NodeType,
    RunContext,
    Template,
    never,
    no_handles,
    only_default,
    render_optional,
)
from models.messages import Media, MediaKind, OutboundMessage

_EXTENSIONS: dict[str, MediaKind] = {
    **dict.fromkeys(("jpg", "jpeg", "png", "gif", "webp"), "image"),
    **dict.fromkeys(("mp4", "3gp", "mov", "webm"), "video"),
    **dict.fromkeys(("mp3", "ogg", "opus", "m4a", "aac", "amr", "wav"), "audio"),
}
_KINDS: tuple[MediaKind, ...] = ("image", "video", "audio", "document")


class MediaData(NodeData):
    media_url: Template | None = None
    file_url: Template | None = None
    url: Template | None = None
    media_type: str | None = None
    file_type: str | None = None
    file_name: Template | None = None
    caption: Template | None = None
    content: Template | None = None

    @model_validator(mode="after")
    def _has_url(self) -> MediaData:
        if not self.source:
            raise ValueError("a media node needs `mediaUrl` (or `fileUrl` / `url`)")
        return self

    @property
    def source(self) -> str:
        return self.media_url or self.file_url or self.url or ""

    def guess_kind(self) -> MediaKind:
        declared = (self.media_type or self.file_type or "").split("/")[0].lower()
        if declared in _KINDS:
            return declared  # type: ignore[return-value]
        extension = self.source.split("?")[0].rsplit(".", 1)[-1].lower()
        return _EXTENSIONS.get(extension, "document")


def media_node(type_name: str, kind: MediaKind | None) -> NodeType:
    """A node type sending media of a fixed `kind`, or of the kind the data says (None)."""

    async def run(ctx: RunContext, data: MediaData) -> str:
        media = Media(
            kind=kind or data.guess_kind(),
            url=ctx.render(data.source),
            caption=render_optional(ctx, data.caption or data.content),
            filename=render_optional(ctx, data.file_name),
            mime_type=data.file_type if data.file_type and "/" in data.file_type else None,
        )
        await ctx.send(OutboundMessage(kind="media", media=media))
        return DEFAULT

    return NodeType(
        type=type_name,
        data_model=MediaData,
        handles=only_default,
        required_handles=no_handles,
        waits=never,
        run=run,
    )


MEDIA = media_node("media", None)
