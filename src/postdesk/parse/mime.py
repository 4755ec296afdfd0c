"""Raw message bytes → `Mail`, for any bytes whatsoever.

`parse_mail` never raises. The MIME tree comes from the standard library's
`BytesParser` with a compat32 policy that hands back header values untouched
(8-bit bytes kept as surrogate escapes); every header and every body part is
then decoded here, with a fallback for each way that can fail. What could not
be read cleanly is recorded as a human-readable line in `Mail.defects`.
docs/parsing.md explains the choices and the measurements behind them.
"""

from __future__ import annotations

import binascii
import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import UTC, datetime
from email import errors
from email.generator import BytesGenerator
from email.message import Message
from email.parser import BytesParser
from email.policy import Compat32
from email.utils import getaddresses, parsedate_to_datetime
from functools import partial
from io import BytesIO
from types import MappingProxyType
from typing import TypeVar

import charset_normalizer
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from postdesk.core.mail import Address, Attachment, Mail
from postdesk.parse.hidden import drop_hidden
from postdesk.parse.is_mail import HEADER_LINE

_T = TypeVar("_T")

BODY_TYPES = frozenset({"text/plain", "text/html"})

# Labels seen in real mail that Python's codec registry does not know, mapped
# to the codec that decodes what those senders actually write.
CHARSET_ALIASES = MappingProxyType(
    {
        "iso-8859-8-i": "iso-8859-8",
        "iso-8859-8-e": "iso-8859-8",
        "iso-8859-6-i": "iso-8859-6",
        "iso-8859-6-e": "iso-8859-6",
        "x-sjis": "shift_jis",
        "ks_c_5601-1987": "cp949",
        # GB2312-labelled mail is routinely GBK; GB18030 is a superset of both.
        "gb2312": "gb18030",
        "gbk": "gb18030",
        "x-mac-roman": "mac_roman",
        "macintosh": "mac_roman",
        "utf8mb4": "utf-8",
    }
)

# Where text labelled with a 7-bit charset has 8-bit bytes anyway, they are
# most likely in that language's 8-bit charset (Japanese mail labelled
# ISO-2022-JP with Shift_JIS bytes is a classic). Keyed by Python codec name.
EIGHT_BIT_SIBLINGS = MappingProxyType({"iso2022_jp": "cp932", "iso2022_kr": "cp949"})

# The charsets mail is really written in, as charset-normalizer names them.
MAIL_CHARSETS = frozenset(
    """
    utf_8 utf_16 cp1252 latin_1 iso8859_15 iso8859_2 cp1250 cp1257 iso8859_13
    cp1251 koi8_r koi8_u iso8859_5 cp1253 iso8859_7 cp1254 iso8859_9
    cp1255 iso8859_8 cp1256 iso8859_6 cp874 tis_620
    cp932 shift_jis shift_jis_2004 euc_jp euc_jis_2004 iso2022_jp
    gb18030 gbk gb2312 big5 cp950 euc_kr cp949
    """.split()  # noqa: SIM905 - a word list reads better than 35 quoted lines
)

# Single-byte Western codecs (Python names): they decode any bytes, so a
# label naming one is no evidence that 8-bit text really is in it.
WESTERN_CODECS = frozenset({"iso8859-1", "cp1252", "iso8859-15", "ascii"})

# Single-byte code pages of Latin-script languages (charset-normalizer names):
# never the answer for bytes that come in runs (see `_non_latin`).
LATIN_CODECS = frozenset(
    {"cp1252", "latin_1", "iso8859_15", "iso8859_2", "cp1250", "cp1257", "iso8859_13", "cp1254", "iso8859_9"}
)

# The last resort for text in no known charset: what unlabelled Western mail
# usually is, and it decodes all but five byte values.
FALLBACK_CHARSET = "windows-1252"

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_EIGHT_BIT_RUN = re.compile(rb"[\x80-\xff]{3,}")
_FOLD = re.compile(r"[ \t]*\r?\n[ \t]*|\r")
_BRACKETED_ID = re.compile(r"<([^<>]*)>")
_LOOSE_ID_SEPARATORS = re.compile(r"[\s,;]+")
_TAGS = re.compile(r"<[^>]*>")
_EXTENSIONS = MappingProxyType(
    {
        "message/rfc822": ".eml",
        "message/delivery-status": ".txt",
        "message/disposition-notification": ".txt",
        "message/feedback-report": ".txt",
        "text/rfc822-headers": ".txt",
        "text/plain": ".txt",
        "text/html": ".html",
        "text/calendar": ".ics",
        "application/pdf": ".pdf",
        "image/png": ".png",
        "image/jpeg": ".jpg",
        "image/gif": ".gif",
    }
)


class _RawHeaderPolicy(Compat32):
    """compat32, but header values are returned as parsed, 8-bit bytes included.

    Plain compat32 wraps 8-bit values in `Header` objects with the
    'unknown-8bit' charset, which loses the chance to decode them properly;
    the modern policy decodes every header through its full grammar, which is
    what makes it slow. We decode headers ourselves (see `_HeaderDecoder`).
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value

    def fold_binary(self, name: str, value: str) -> bytes:
        # Used only to serialise report parts back to bytes: write the header
        # as it came (refolding through `Header` costs a fifth of all parsing
        # time on bounces, and would change the text bounce detection reads).
        line = f"{name}: {value}".replace("\r\n", "\n").replace("\r", "\n")
        return (line + "\n").encode("utf-8", "surrogateescape")


_POLICY = _RawHeaderPolicy()


@dataclass(slots=True)
class _Defects:
    """The defects of one parse, in order, each once."""

    seen: dict[str, None] = field(default_factory=dict)

    def add(self, text: str) -> None:
        self.seen.setdefault(text, None)

    def as_tuple(self) -> tuple[str, ...]:
        return tuple(self.seen)


def parse_mail(raw: bytes) -> Mail:
    """Parse one message. Never raises: broken input yields defects, not errors."""
    defects = _Defects()
    try:
        mail = _parse(bytes(raw), defects)
    except Exception as exc:  # noqa: BLE001 - the contract is "never raise"
        defects.add(f"parser failed ({type(exc).__name__}: {exc}); only the raw text was kept")
        mail = Mail(
            message_id=None,
            subject="",
            from_=None,
            text=_lossy_text(raw),
            defects=defects.as_tuple(),
        )
    return _without_nul(mail)


NUL_DEFECT = "NUL characters (U+0000) replaced with U+FFFD"


def _without_nul(mail: Mail) -> Mail:
    """PostgreSQL's text cannot hold U+0000 (SQLite's can): every text the
    store keeps loses it, on both backends alike, and the mail says so."""

    def clean(value: _T) -> _T:
        # Returns VALUE itself when it holds no NUL, so a clean mail is not rebuilt.
        if isinstance(value, str):
            return value.replace("\x00", "\ufffd") if "\x00" in value else value  # type: ignore[return-value]
        if isinstance(value, tuple):
            items = [clean(item) for item in value]
            changed = any(new is not old for new, old in zip(items, value, strict=True))
            return tuple(items) if changed else value  # type: ignore[return-value]
        if is_dataclass(value) and not isinstance(value, type):
            changes = {}
            for f in fields(value):
                old = getattr(value, f.name)
                if (new := clean(old)) is not old:
                    changes[f.name] = new
            return replace(value, **changes) if changes else value
        return value

    cleaned = clean(mail)
    return mail if cleaned is mail else replace(cleaned, defects=(*cleaned.defects, NUL_DEFECT))


def _parse(raw: bytes, defects: _Defects) -> Mail:
    msg = _parse_tree(raw, defects)
    hint = _declared_charset(msg)
    headers = _HeaderDecoder.for_message(msg, hint, defects).decode_all(msg)
    structured = {name: value for name, value, _ in reversed(headers)}
    body = _Body(defects, hint)
    body.walk(msg)
    for message in body.stdlib_defects:
        defects.add(message)
    from_ = _from_address([text for name, text, _ in headers if name == "from"], defects)
    return Mail(
        message_id=_message_id(structured.get("message-id")),
        subject=" ".join(_display(headers, "subject").split()),
        from_=from_,
        to=_addresses(structured.get("to")),
        cc=_addresses(structured.get("cc")),
        reply_to=_addresses(structured.get("reply-to")),
        in_reply_to=_message_ids(structured.get("in-reply-to")),
        references=_message_ids(structured.get("references")),
        date=_date(structured.get("date"), defects),
        text=body.text(),
        html_converted=body.html_converted,
        attachments=tuple(body.attachments),
        content_type=_content_type(msg),
        headers=tuple((name, display) for name, _, display in headers),
        defects=defects.as_tuple(),
    )


def _parse_tree(raw: bytes, defects: _Defects, repair: bool = True) -> Message:
    """The MIME tree; repaired once or reduced when the stdlib cannot read it as it is."""
    try:
        msg = BytesParser(policy=_POLICY).parsebytes(raw)
    except RecursionError:
        # The stdlib parser recurses once per nesting level and gives up near
        # Python's recursion limit: read the parts flat instead.
        return _flat_tree(raw, defects)
    if repair and any(isinstance(d, errors.MissingHeaderBodySeparatorDefect) for d in msg.defects):
        repaired = _repair_header_block(raw)
        if repaired is not None:
            fixed, note = repaired
            defects.add(note)
            return _parse_tree(fixed, defects, repair=False)
    return msg


_BOUNDARY = re.compile(rb"""boundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))""", re.IGNORECASE)


def _flat_tree(raw: bytes, defects: _Defects) -> Message:
    """RAW's headers over its leaf parts side by side, for a tree too deep to parse as one.

    Every line that opens or closes a part of any boundary the message
    declares cuts the body; each piece between two cuts is a part of its
    own, parsed alone (one level, no recursion). The containers
    (multipart/*) are dropped, so the text and the files, however deep they
    sat, are read as if they were the parts of one multipart/mixed.
    """
    msg = BytesParser(policy=_POLICY).parsebytes(raw, headersonly=True)
    end_of_headers = re.search(rb"\r?\n\r?\n", raw)
    body = raw[end_of_headers.end() :] if end_of_headers else b""
    boundaries = {b"--" + (quoted or bare) for quoted, bare in _BOUNDARY.findall(raw)}
    pieces: list[list[bytes]] = [[]]
    for line in body.splitlines(keepends=True):
        if line.startswith(b"--") and line.rstrip().removesuffix(b"--") in boundaries:
            pieces.append([])
        else:
            pieces[-1].append(line)
    parts: list[Message | str] = []
    for piece in pieces[1:]:  # the first is the outermost preamble
        if not b"".join(piece).strip():
            continue
        part = BytesParser(policy=_POLICY).parsebytes(b"".join(piece))
        if not (_safe(part.get_content_type) or "").startswith("multipart/"):
            parts.append(part)
    defects.add("MIME structure too deeply nested to parse as a tree; its parts were read side by side")
    del msg["content-type"]
    del msg["content-transfer-encoding"]
    msg["Content-Type"] = "multipart/mixed"
    msg.set_payload(parts)
    return msg


def _repair_header_block(raw: bytes) -> tuple[bytes, str] | None:
    """The header block with stray lines fixed, when it clearly is a header block.

    Some gateways fold long headers without indenting the continuation, and
    some mail arrives with a line of junk before the headers; the stdlib then
    ends the headers at the first such line and reads the rest as body. When
    the first paragraph is mostly headers, indent the stray lines between two
    headers and drop a single junk line before the first. Lines after the
    last header stay where they are: that is a missing blank line, which the
    stdlib already reads right (the body starts there).
    """
    lines = raw.splitlines(keepends=True)
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    is_header = [bool(HEADER_LINE.match(line)) for line in lines[:end]]
    count = sum(is_header)
    if count < 3 or 2 * count < end:
        return None
    first = is_header.index(True)
    last = end - 1 - is_header[::-1].index(True)
    if first > 1 or (first and count < 5):
        # More junk than a stray banner line: probably quoted headers in a
        # body (a forwarded mail pasted without its own headers), not a mail.
        return None
    stray = [i for i in range(first, last) if not is_header[i] and lines[i][:1] not in (b" ", b"\t")]
    if not stray and not first:
        return None
    for i in stray:
        lines[i] = b" " + lines[i]
    note = (
        f"header block repaired: {first} junk line(s) before it dropped,"
        f" {len(stray)} unindented continuation line(s) joined"
    )
    return b"".join(lines[first:]), note


# --- headers ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _HeaderDecoder:
    """Turns raw header values into text.

    Two stages: `text` repairs 8-bit bytes and unfolds (the form structured
    fields such as addresses are parsed from, so an encoded comma in a display
    name cannot split an address); `decode_all` also decodes RFC 2047 words
    for display. `eight_bit_codec` decodes raw 8-bit bytes that are not UTF-8.
    """

    eight_bit_codec: str | None
    defects: _Defects

    @classmethod
    def for_message(cls, msg: Message, hint: str | None, defects: _Defects) -> _HeaderDecoder:
        """A decoder whose 8-bit charset fits all of the message's raw 8-bit headers.

        One mailer wrote them all, in one charset, and their bytes together
        are better evidence than any single short header.
        """
        sample = b" ".join(
            str(value).encode("utf-8", "surrogateescape")
            for _, value in msg.raw_items()
            if not str(value).isascii()
        )
        return cls(_eight_bit_codec(sample, _codec_for(hint)), defects)

    def decode_all(self, msg: Message) -> list[tuple[str, str, str]]:
        """(lower-case name, text, display) for every top-level header."""
        decoded = []
        for name, value in msg.raw_items():
            key = str(name).strip().lower()
            label = f"header '{_title(key)}'"
            try:
                text = self.text(value, label)
                display = _decode_encoded_words(text, label, self.defects)
            except Exception as exc:  # noqa: BLE001 - one bad header must not lose the others
                self.defects.add(f"{label} undecodable ({type(exc).__name__})")
                text = display = _lossy_text(str(value).encode("utf-8", "surrogateescape"))
            decoded.append((key, text, display))
        return decoded

    def text(self, value: object, label: str) -> str:
        value = str(value)
        if not value.isascii():
            value = self._repair_8bit(value, label)
        if "\n" in value or "\r" in value:
            value = _FOLD.sub(" ", value)
        return value.strip()

    def _repair_8bit(self, value: str, label: str) -> str:
        """Raw non-ASCII bytes in a header: UTF-8 if valid, else the message's 8-bit charset."""
        data = value.encode("utf-8", "surrogateescape")
        text, how = _fallback_decode(data, [self.eight_bit_codec])
        if how != "utf-8":
            self.defects.add(f"{label} has 8-bit bytes that are not UTF-8, decoded as {how}")
        return text


def _eight_bit_codec(sample: bytes, hint: str | None) -> str | None:
    """The charset of a message's raw 8-bit header bytes, when they are not UTF-8.

    Headers are short, too short for statistical detection alone (it calls
    "Müller" cp1250 and a dash cp1125): the charset the message declares for
    its text is tried first.
    """
    if not sample:
        return None
    for codec in ("utf-8", *_hinted(hint, sample)):
        if codec:
            try:
                sample.decode(codec)
            except UnicodeDecodeError:
                continue
            return codec
    return _guess_codec(sample)


def _hinted(hint: str | None, data: bytes) -> list[str | None]:
    """Codecs to try first for 8-bit text that a charset declared elsewhere may fit.

    A Western label is ignored when the bytes are plainly not Western text
    (spam in GB2312 labelled iso-8859-1 is common): it would decode them all
    into nonsense, never fail.
    """
    if hint is None or (hint in WESTERN_CODECS and _non_latin(data)):
        return []
    return [hint, EIGHT_BIT_SIBLINGS.get(hint)]


def _non_latin(data: bytes) -> bool:
    """Whether 8-bit bytes come mostly in runs, as in Cyrillic, Greek or CJK text.

    Western European text in a single-byte charset has its accented letters
    one or two at a time between ASCII letters; other scripts do not.
    """
    high = sum(1 for byte in data if byte > 0x7F)
    in_runs = sum(len(run) for run in _EIGHT_BIT_RUN.findall(data))
    # A handful of bytes is no evidence either way ("äöüß" is one run).
    return in_runs >= 6 and in_runs * 2 > high


def _decode_encoded_words(value: str, where: str, defects: _Defects) -> str:
    """Decode RFC 2047 encoded words, tolerantly.

    Unlike `email.header.decode_header` this never raises (bad base64,
    unknown charsets), keeps non-ASCII text between words intact, and joins
    adjacent words of one charset before decoding, so a character split
    across two words survives.
    """
    if "=?" not in value:
        return value
    out: list[str] = []
    pending = bytearray()
    pending_charset = ""
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        # Whitespace between two encoded words is not part of the text.
        if between and not (pending_charset and between.isspace()):
            _flush(out, pending, pending_charset, where, defects)
            pending_charset = ""
            out.append(between)
        charset = match[1].partition("*")[0].lower()  # RFC 2231 language suffix
        data = _decode_word(match[2], match[3], where, defects)
        if charset != pending_charset:
            _flush(out, pending, pending_charset, where, defects)
            pending_charset = charset
        pending += data
        position = match.end()
    _flush(out, pending, pending_charset, where, defects)
    out.append(value[position:])
    return "".join(out)


def _decode_word(encoding: str, encoded: str, where: str, defects: _Defects) -> bytes:
    data = encoded.encode("utf-8", "surrogateescape")
    if encoding in "qQ":
        return binascii.a2b_qp(data, header=True)
    data = b"".join(data.split())
    data += b"=" * (-len(data) % 4)
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        defects.add(f"broken base64 in an encoded word of {where}")
        # A stray trailing character makes the length invalid; drop it.
        try:
            return binascii.a2b_base64(data.rstrip(b"=")[:-1] + b"==")
        except binascii.Error:
            return encoded.encode("utf-8", "surrogateescape")


def _flush(out: list[str], pending: bytearray, charset: str, where: str, defects: _Defects) -> None:
    if pending:
        out.append(_decode_bytes(bytes(pending), charset, f"encoded word of {where}", defects))
        pending.clear()


# --- addresses, ids, dates -------------------------------------------------------


def _from_address(values: list[str], defects: _Defects) -> Address | None:
    """The author: the first From header that holds a usable address."""
    if not values:
        defects.add("no From header")
        return None
    for value in values:
        found = _addresses(value)
        with_at = [address for address in found if "@" in address.email]
        if len(found) > 1 and len(with_at) == 1 and value.count("<") == 1:
            # An unquoted comma in the display name ("Müller, Jürgen <j@x>")
            # splits it into two addresses; take the name before the bracket.
            name = value.partition("<")[0].strip().strip("\"'").strip()
            return Address(with_at[0].email, _display_name(name))
        if with_at:
            return with_at[0]
    # No address with a domain: a local name alone ("MAILER-DAEMON") still says who.
    local_only = [address for value in values for address in _addresses(value)]
    if not local_only:
        defects.add("From header has no usable address")
        return None
    return local_only[0]


def _addresses(value: str | None) -> tuple[Address, ...]:
    """The mailboxes of an address header, in its `text` form (8-bit repaired, not RFC 2047 decoded)."""
    if not value:
        return ()
    pairs = getaddresses([value])
    if "=?" in value and not any("@" in email for _, email in pairs):
        # The whole "Name <addr>" sent as one encoded word: decode, then parse.
        pairs = getaddresses([_decode_encoded_words(value, "address", _Defects())])
    return tuple(Address(email.strip(), _display_name(name)) for name, email in pairs if email.strip())


def _display_name(name: str) -> str:
    # Any defect in these encoded words was already recorded when the whole
    # header was decoded for `Mail.headers`.
    return " ".join(_decode_encoded_words(name, "a display name", _Defects()).split())


def _message_id(value: str | None) -> str | None:
    ids = _message_ids(value)
    if ids:
        return ids[0]
    # An id with neither brackets nor "@" is still the sender's id for it.
    words = (value or "").split()
    return words[0].strip("<>") or None if words else None


def _message_ids(value: str | None) -> tuple[str, ...]:
    """Ids in angle brackets, tolerant of comments and junk between them."""
    if not value:
        return ()
    bracketed = ["".join(found.split()) for found in _BRACKETED_ID.findall(value)]
    if any(bracketed):
        return tuple(mid for mid in bracketed if mid)
    # No brackets at all: some mailers write bare ids.
    return tuple(token.strip("<>") for token in _LOOSE_ID_SEPARATORS.split(value) if "@" in token)


def _date(value: str | None, defects: _Defects) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError, OverflowError):
        defects.add(f"unparsable Date header {value[:80]!r}")
        return None
    # "-0000" means UTC with the local zone unknown (RFC 5322 3.3).
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _display(headers: list[tuple[str, str, str]], name: str) -> str:
    return next((display for key, _, display in headers if key == name), "")


def _title(name: str) -> str:
    return "-".join(word.capitalize() for word in name.split("-"))


# --- charsets -------------------------------------------------------------------------


def _codec_for(charset: str | None) -> str | None:
    """Python's codec name for a MIME charset label, or None when unknown."""
    if not charset:
        return None
    label = charset.strip().strip("\"'").lower()
    label = CHARSET_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return None
    # bytes.decode refuses bytes-to-bytes codecs such as 'base64' anyway.
    return info.name if info._is_text_encoding else None


def _decode_bytes(
    data: bytes, charset: str | None, where: str, defects: _Defects, hint: str | None = None
) -> str:
    """Bytes in a declared (or undeclared) charset → text, with a fallback when that fails.

    `hint` is a charset declared elsewhere in the message, tried first for
    8-bit text that declares none.
    """
    codec = _codec_for(charset)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            problem = f"{where} is not valid {charset}"
        if data.isascii():
            # A 7-bit charset (ISO-2022-*) with a character it lacks: the
            # escape sequences still say what the rest is, a guess would not.
            defects.add(f"{problem}, undecodable characters replaced")
            return data.decode(codec, "replace")
        candidates = [EIGHT_BIT_SIBLINGS.get(codec)]
    elif charset:
        problem = f"unknown charset {charset!r} in {where}"
        candidates = []
    else:
        # Undeclared means US-ASCII; UTF-8 is the common reality.
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            problem = f"8-bit text without a valid charset in {where}"
        candidates = _hinted(_codec_for(hint), data)
    text, how = _fallback_decode(data, candidates)
    defects.add(f"{problem}, decoded as {how}")
    return text


def _fallback_decode(data: bytes, candidates: list[str | None]) -> tuple[str, str]:
    """Text in no known charset: UTF-8, the candidates, a guess, Windows-1252 — the first that fits.

    Returns the text and how it was decoded ("utf-8" when it simply was).
    """
    for codec in ("utf-8", *candidates):
        if codec:
            try:
                return data.decode(codec), codec if codec == "utf-8" else f"{codec} (guessed)"
            except UnicodeDecodeError:
                pass
    text = data.decode("utf-8", "replace")
    broken = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if non_ascii > 2 * broken:
        # Mostly valid UTF-8 with a few stray bytes: any single-byte guess
        # would garble all the good characters to save the bad ones.
        return text, f"utf-8 with {broken} undecodable sequence(s) replaced"
    codec = _guess_codec(data)
    if codec is not None:
        return data.decode(codec), f"{codec} (guessed)"
    text = data.decode(FALLBACK_CHARSET, "replace")
    return text, f"{FALLBACK_CHARSET} (guessed), undecodable bytes replaced"


def _guess_codec(data: bytes) -> str | None:
    """A charset that decodes the bytes and is plausible for them, or None."""
    latin = not _non_latin(data)
    if latin:
        # Statistical detection is unreliable on a few accented letters in
        # mostly ASCII text; Windows-1252 is what such text usually is.
        try:
            data.decode(FALLBACK_CHARSET)
        except UnicodeDecodeError:
            pass
        else:
            return FALLBACK_CHARSET
    # Only the lines with 8-bit bytes: in a long mostly-ASCII mail the ASCII
    # drowns the evidence and detection favours Latin code pages.
    sample = b"\n".join(line for line in data.splitlines() if not line.isascii())[:65536]
    for result in charset_normalizer.from_bytes(sample):
        # Detection on mail often ranks an obscure DOS or Mac code page first;
        # take the best guess among charsets mail is actually written in.
        if result.encoding not in MAIL_CHARSETS or (not latin and result.encoding in LATIN_CODECS):
            continue
        try:
            data.decode(result.encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        return result.encoding
    return None


def _declared_charset(msg: Message) -> str | None:
    """The charset the message declares for its text, as a hint for undeclared 8-bit text.

    The first part on the way down the first branch that names a charset
    other than ASCII or UTF-8; else the charset of an encoded word in the
    headers.
    """
    part = msg
    while True:  # a tree has a bottom: the parser built it from finite bytes
        charset = _safe(part.get_content_charset)
        if charset and _codec_for(charset) not in (None, "ascii", "utf-8"):
            return str(charset)
        payload = part.get_payload()
        if not isinstance(payload, list) or not payload or not isinstance(payload[0], Message):
            break
        part = payload[0]
    for _, value in msg.raw_items():
        for match in _ENCODED_WORD.finditer(str(value)):
            if _codec_for(match[1]) not in (None, "ascii", "utf-8"):
                return match[1]
    return None


def _content_type(msg: Message) -> str:
    return _safe(msg.get_content_type) or "text/plain"


def _safe(read: Callable[[], _T]) -> _T | None:
    """A stdlib accessor that may raise on malformed parameters → None instead."""
    try:
        return read()
    except Exception:  # noqa: BLE001 - malformed input reaches many stdlib code paths
        return None


def _lossy_text(raw: object) -> str:
    if not isinstance(raw, bytes | bytearray | memoryview):
        return ""
    return bytes(raw).decode("utf-8", "replace").replace("\r\n", "\n")


# --- body --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Body:
    """Walks the MIME tree once, collecting body text and attachments.

    Iteratively: the parts still to read are steps on a list, not frames on
    Python's call stack, so a text part is found however deep it is nested
    (a 200-level tree is read like a flat one; the stdlib parser itself
    stops near 1000 levels, see `_parse_tree`).
    """

    defects: _Defects
    # The charset the message declares elsewhere, for text that declares none.
    charset_hint: str | None
    texts: list[str] = field(default_factory=list)
    html_converted: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    stdlib_defects: list[str] = field(default_factory=list)
    # What is left to do, the next step last (depth first, parts in their order).
    steps: list[Callable[[], None]] = field(default_factory=list)

    def text(self) -> str:
        return "\n\n".join(text.strip("\n") for text in self.texts if text.strip())

    def walk(self, root: Message) -> None:
        self.steps.append(lambda: self._visit(root, "", True))
        while self.steps:
            self.steps.pop()()

    def _later(self, *steps: Callable[[], None]) -> None:
        """Do STEPS next, in this order, before anything already waiting."""
        self.steps.extend(reversed(steps))

    def _visit(self, part: Message, path: str, body_allowed: bool) -> None:
        try:
            self._walk_part(part, path, body_allowed)
        except Exception as exc:  # noqa: BLE001 - one unreadable part must not lose the rest
            self.defects.add(f"part {path or 'body'} unreadable ({type(exc).__name__}: {exc})")
        self.stdlib_defects.extend(
            type(defect).__name__ + (f" in part {path}" if path else "") for defect in part.defects
        )

    def _walk_part(self, part: Message, path: str, body_allowed: bool) -> None:
        ctype = _safe(part.get_content_type) or "application/octet-stream"
        payload = part.get_payload()
        if ctype.startswith("message/") or not isinstance(payload, list):
            self._leaf(part, ctype, path, body_allowed)
        elif ctype == "multipart/alternative":
            children = [child for child in payload if isinstance(child, Message)]
            self._alternative(children, path, _preference(children) if body_allowed else [], set())
        else:
            self._later(
                *(
                    partial(self._visit, child, _child(path, index), body_allowed)
                    for index, child in enumerate(payload, 1)
                )
            )

    def _alternative(self, children: list[Message], path: str, untried: list[int], tried: set[int]) -> None:
        """Take the plain text version; the others only contribute their attachments.

        Tries the UNTRIED alternatives best first until one gives text, then
        reads the rest for their attachments only.
        """
        if untried:
            index, before = untried[0], len(self.texts)

            def found_text_or_next() -> None:
                if any(text.strip() for text in self.texts[before:]):
                    self._alternative(children, path, [], tried)
                else:
                    self._alternative(children, path, untried[1:], tried)

            tried.add(index)
            self._later(
                partial(self._visit, children[index], _child(path, index + 1), True), found_text_or_next
            )
            return
        self._later(
            *(
                partial(self._visit, child, _child(path, index + 1), False)
                for index, child in enumerate(children)
                if index not in tried
            )
        )

    def _leaf(self, part: Message, ctype: str, path: str, body_allowed: bool) -> None:
        disposition = _safe(part.get_content_disposition)
        filename = self._filename(part, path)
        is_body_type = ctype in BODY_TYPES or ctype.startswith("multipart/")
        # A named text part is a file, unless it is the whole mail (scripts
        # send logs as a single "text/plain; name=log.txt").
        if is_body_type and disposition != "attachment" and (not filename or not path):
            if body_allowed:
                self._add_text(part, ctype, path)
            return
        content_id = "".join(str(part.get("content-id", "")).split()).strip("<>") or None
        self.attachments.append(
            Attachment(
                filename=filename or f"part-{path or '1'}{_EXTENSIONS.get(ctype, '.bin')}",
                content_type=ctype,
                data=self._data(part, ctype, path),
                content_id=content_id,
                inline=disposition == "inline" or (disposition is None and content_id is not None),
            )
        )

    def _add_text(self, part: Message, ctype: str, path: str) -> None:
        where = f"part {path} ({ctype})" if path else "body"
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        text = _decode_bytes(data, _safe(part.get_content_charset), where, self.defects, self.charset_hint)
        if ctype == "text/html":
            text = _html_to_text(text, where, self.defects)
            self.html_converted = True
        self.texts.append(text.replace("\r\n", "\n"))

    def _filename(self, part: Message, path: str) -> str:
        raw = _safe(part.get_filename)
        if not raw:
            return ""
        label = f"the filename of part {path or 'body'}"
        hint = _codec_for(_safe(part.get_content_charset) or self.charset_hint)
        decoder = _HeaderDecoder(_eight_bit_codec(raw.encode("utf-8", "surrogateescape"), hint), self.defects)
        return " ".join(_decode_encoded_words(decoder.text(raw, label), label, self.defects).split())

    def _data(self, part: Message, ctype: str, path: str) -> bytes:
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
        # message/rfc822 and report parts are parsed into sub-messages by the
        # stdlib; serialise them back so bounce detection can read them whole.
        try:
            out = BytesIO()
            BytesGenerator(out, mangle_from_=False, policy=_POLICY).flatten(part)
        except Exception as exc:  # noqa: BLE001 - RecursionError on deep nesting, among others
            self.defects.add(
                f"part {path or 'body'} ({ctype}) could not be re-serialised ({type(exc).__name__})"
            )
            return b""
        flat = out.getvalue()
        return flat[1:] if flat.startswith(b"\n") else flat.partition(b"\n\n")[2]


def _preference(children: list[Message]) -> list[int]:
    """Indexes of alternatives, best first: plain text, nested multipart, HTML."""
    rank = {"text/plain": 0, "text/html": 2}

    def key(index: int) -> int:
        ctype = _safe(children[index].get_content_type) or ""
        return rank.get(ctype, 1 if ctype.startswith("multipart/") else 3)

    return sorted((i for i in range(len(children)) if key(i) < 3), key=key)


def _child(path: str, index: int) -> str:
    return f"{path}.{index}" if path else str(index)


def _html_to_text(html: str, where: str, defects: _Defects) -> str:
    if not html.strip():
        return ""
    try:
        tree = HTMLTree.parse(html)
        hidden = drop_hidden(tree)
        if hidden:
            defects.add(f"HTML in {where}: {hidden} hidden element(s) left out of the text")
        return extract_plain_text(
            tree,
            preserve_formatting=True,  # paragraphs, line breaks, list bullets as the mail showed them
            main_content=False,  # a mail is all content; no boilerplate detection
            list_bullets=True,
            alt_texts=False,
            links=False,
            noscript=False,
        )
    except Exception as exc:  # noqa: BLE001 - a converter failing on an odd document must not lose the mail
        defects.add(f"HTML in {where} could not be converted ({type(exc).__name__}); tags stripped")
        return _TAGS.sub(" ", html)
