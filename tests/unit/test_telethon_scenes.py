"""Scene lines through the Telethon adapter: replies both ways, photos and stickers by URL and
by file, and the request Telethon itself builds from what the adapter passes it (no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from telethon import TelegramClient, errors, types, utils
from telethon.sessions import StringSession
from telethon.tl.functions.messages import SendMediaRequest
from telethon.tl.types import MessageReplyHeader, PeerChannel, PeerUser

from bots.telethon_client import TelethonAccountClient
from bots.telethon_mapping import incoming_from_message, map_error, send_file_options
from core.telegram import Attachment, AttachmentMissing, ReplyNotFound
from tests.unit.test_telethon_adapter import ANN, GROUP, FakeTelegram, message

CAKE_URL = Attachment(kind="photo", ref="https://cdn.example.com/cake.jpg")
CAKE_FILE = Attachment(kind="photo", ref="cake.jpg")
HELLO = Attachment(kind="sticker", ref="hello.webp")
DANCE = Attachment(kind="sticker", ref="dance.tgs")


def reply_invalid() -> Exception:
    """What Telethon raises for REPLY_MESSAGE_ID_INVALID: it has no class of its own."""
    error: Exception = errors.rpc_message_to_error(
        types.RpcError(400, "REPLY_MESSAGE_ID_INVALID"), None
    )
    return error


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    for name in ("cake.jpg", "hello.webp", "dance.tgs"):
        (tmp_path / name).write_bytes(b"not really an image")
    return tmp_path


def group_client(media_dir: Path | None = None) -> tuple[FakeTelegram, TelethonAccountClient]:
    fake = FakeTelegram()
    fake.entities["@pyjobs"] = utils.get_input_peer(GROUP)
    return fake, TelethonAccountClient.over(fake, media_dir=media_dir)


# ---------------------------------------------------------------------------- incoming


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (MessageReplyHeader(reply_to_msg_id=5), 5),
        (MessageReplyHeader(reply_to_msg_id=5, forum_topic=True, reply_to_top_id=2), 5),
        (MessageReplyHeader(reply_to_msg_id=2, forum_topic=True), None),
        (MessageReplyHeader(reply_to_msg_id=5, reply_to_peer_id=PeerChannel(9)), None),
        (None, None),
    ],
    ids=["reply", "reply-in-a-topic", "topic-message-not-a-reply", "quote-of-another-chat", "none"],
)
def test_an_incoming_reply_carries_the_id_it_quotes_in_the_same_chat(
    header: Any, expected: int | None
) -> None:
    incoming = incoming_from_message(
        message(PeerChannel(GROUP.id), reply_to=header), GROUP, ANN, None
    )

    assert incoming is not None and incoming.reply_to_message_id == expected


def test_a_reply_to_a_message_telegram_does_not_know_is_reply_not_found() -> None:
    assert isinstance(map_error(reply_invalid()), ReplyNotFound)


# ---------------------------------------------------------------------------- sending


async def test_a_text_line_goes_out_quoting_the_message_it_replies_to() -> None:
    fake, client = group_client()

    sent = await client.send_message("@pyjobs", "Welcome!", reply_to=12)

    assert fake.sent == [(utils.get_input_peer(GROUP), "Welcome!")] and fake.replies == [12]
    assert sent.chat_id == utils.get_peer_id(GROUP)


async def test_a_photo_by_url_is_sent_with_its_caption_and_quote_and_no_file_lookup() -> None:
    fake, client = group_client(media_dir=None)

    sent = await client.send_message("@pyjobs", "Our new cake", reply_to=3, attachment=CAKE_URL)

    [(entity, file, options)] = fake.files
    assert (entity, file) == (utils.get_input_peer(GROUP), CAKE_URL.ref)
    assert options == {"caption": "Our new cake", "reply_to": 3, "force_document": False}
    assert sent.message_id == 502


async def test_a_photo_file_comes_from_the_media_directory_and_an_empty_caption_is_none(
    media_dir: Path,
) -> None:
    fake, client = group_client(media_dir)

    await client.send_message("@pyjobs", "", attachment=CAKE_FILE)

    [(_, file, options)] = fake.files
    assert file == str(media_dir / "cake.jpg") and options["caption"] is None


@pytest.mark.parametrize(
    ("sticker", "mime"),
    [(HELLO, "image/webp"), (DANCE, "application/x-tgsticker")],
    ids=["static", "animated"],
)
async def test_a_sticker_file_is_sent_as_a_sticker_document(
    media_dir: Path, sticker: Attachment, mime: str
) -> None:
    fake, client = group_client(media_dir)

    await client.send_message("@pyjobs", "", attachment=sticker)

    [(_, file, options)] = fake.files
    assert file == str(media_dir / sticker.ref)
    assert options["mime_type"] == mime and "caption" not in options
    [attribute] = options["attributes"]
    assert isinstance(attribute, types.DocumentAttributeSticker)


async def test_a_file_missing_from_the_media_directory_sends_nothing(media_dir: Path) -> None:
    fake, client = group_client(media_dir)
    _, without_dir = group_client(None)

    with pytest.raises(AttachmentMissing, match="gone.webp"):
        await client.send_message(
            "@pyjobs", "", attachment=Attachment(kind="sticker", ref="gone.webp")
        )
    with pytest.raises(AttachmentMissing, match="no media directory"):
        await without_dir.send_message("@pyjobs", "", attachment=HELLO)

    assert fake.files == [] and fake.requests == []


async def test_a_reply_to_a_missing_message_on_a_photo_is_reply_not_found() -> None:
    fake, client = group_client()
    fake.send_error = reply_invalid()

    with pytest.raises(ReplyNotFound):
        await client.send_message("@pyjobs", "look", reply_to=999, attachment=CAKE_URL)


async def test_a_captioned_sticker_or_an_empty_text_is_refused_before_any_request(
    media_dir: Path,
) -> None:
    fake, client = group_client(media_dir)

    with pytest.raises(ValueError, match="no caption"):
        await client.send_message("@pyjobs", "hi", attachment=HELLO)
    with pytest.raises(ValueError, match="text or an attachment"):
        await client.send_message("@pyjobs", "")

    assert fake.sent == [] and fake.files == []


@pytest.mark.parametrize(
    ("kind", "ref"),
    [
        ("photo", "../secrets.jpg"),
        ("photo", "media/cake.jpg"),
        ("photo", "http://cdn.example.com/cake.jpg"),
        ("photo", ".hidden.jpg"),
        ("sticker", "hello.png"),
    ],
    ids=["parent-folder", "sub-folder", "plain-http", "hidden-file", "sticker-not-webp-or-tgs"],
)
def test_an_attachment_is_an_https_url_or_a_bare_file_name(kind: str, ref: str) -> None:
    with pytest.raises(ValidationError):
        Attachment.model_validate({"kind": kind, "ref": ref})


# ---------------------------------------------------------------------------- Telethon itself


class _Stop(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("request captured")
        self.request = request


class CapturingClient(TelegramClient):  # type: ignore[misc]  # Telethon is untyped
    """A real, never-connected ``TelegramClient`` that builds the request and stops there."""

    async def upload_file(self, file: Any, **_: Any) -> Any:
        return types.InputFile(id=1, parts=1, name=Path(str(file)).name, md5_checksum="")

    async def __call__(self, request: Any, ordered: bool = False, **_: Any) -> Any:
        raise _Stop(request)


async def sent_request(attachment: Attachment, text: str, file: str) -> Any:
    client = CapturingClient(StringSession(""), 1, "x")
    with pytest.raises(_Stop) as stopped:
        options = send_file_options(attachment, text, reply_to=7)
        await client.send_file(utils.get_input_peer(GROUP), file, **options)
    request = stopped.value.request
    assert isinstance(request, SendMediaRequest)
    assert request.reply_to.reply_to_msg_id == 7
    return request


async def test_telethon_turns_a_sticker_file_into_a_sticker_document(media_dir: Path) -> None:
    request = await sent_request(HELLO, "", str(media_dir / "hello.webp"))

    media = request.media
    assert isinstance(media, types.InputMediaUploadedDocument)
    assert media.mime_type == "image/webp" and not media.force_file
    assert any(isinstance(a, types.DocumentAttributeSticker) for a in media.attributes)


async def test_telethon_sends_a_photo_file_as_a_photo_and_a_url_as_an_external_photo(
    media_dir: Path,
) -> None:
    uploaded = await sent_request(CAKE_FILE, "Our cake", str(media_dir / "cake.jpg"))
    external = await sent_request(CAKE_URL, "", CAKE_URL.ref)

    assert isinstance(uploaded.media, types.InputMediaUploadedPhoto)
    assert uploaded.message == "Our cake"
    assert isinstance(external.media, types.InputMediaPhotoExternal)
    assert external.media.url == CAKE_URL.ref and external.message == ""


def test_a_dm_reply_maps_too() -> None:
    dm = message(PeerUser(ANN.id), "sure", reply_to=MessageReplyHeader(reply_to_msg_id=40))

    incoming = incoming_from_message(dm, ANN, ANN, None)

    assert incoming is not None and incoming.is_private and incoming.reply_to_message_id == 40
