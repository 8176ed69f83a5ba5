"""What each line of a reply is: the marks mail clients leave around quoted history.

Every client writes its own: Gmail's "On … wrote:" in forty languages (wrapped at 80 columns,
sometimes led by the date, sometimes broken by "<mailto:…>"), Outlook's "From:/Sent:" block
under a rule, "-----Original Message-----" and its translations, Zoho's "---- On … wrote ----",
Mutt's "* Name <addr> [date]:", quote prefixes ">", "|" and "C>", signature delimiters and
"Sent from my iPhone" in every language. `classify` turns the lines into one letter each, so
that trim.py can decide on the shape of the whole mail.

Every pattern is anchored and bounded, every line is cut to a bounded length before it is
looked at and a header is looked for over at most four lines, so classifying a mail is linear in
its length whatever it holds.
"""

from __future__ import annotations

import re

EMPTY, TEXT, QUOTE, MARKER, DELIMITER, SIGNATURE = "e", "t", "q", "b", "d", "s"

_LINE_CAP = 1000  # characters of a line looked at
_HEADER_LINES = 4  # a quote header wrapped over more lines than this is not recognised
_BLOCK_LINES = 14  # an Outlook field block is looked for over this many lines

# ">" quoting (any depth, with or without spaces), "|" quoting (a line that does not also end
# with "|", which would be a table row) and initials quoting ("C>", "JS>").
_QUOTE = re.compile(r"^\s{0,8}(>|[A-Za-z]{1,3}>(\s|$)|\|(?!.*\|\s*$))")
_QUOTE_PREFIX = re.compile(r"^\s{0,8}(([A-Za-z]{1,3})?>\s?|\|\s?){1,20}")

# The verb of "On …, Ann wrote:" in the languages clients ship in.
_VERBS = (
    r"(?<!\w)(wrote|writes|schrieb|a\s+écrit|escribió|escribio|ha\s+scritto|scrisse|escreveu|"
    r"schreef|geschreven|skrev|skriver|napisał\(a\)|napisała|napisał|napisal|pisze|"
    r"написал\(а\)|написала|написал|пишет|пише|написав|yazdı|napsal\(a\)|napsala|napsal|"
    r"kirjoitti|írta|έγραψε|va\s+escriure|ha\s+escrit|menulis|đã\s+viết|napisao|napisala|"
    r"napísal|rašė|rakstīja|kirjutas|a\s+scris|написа|escribiu|כתב|כתבה|كتب)(?!\w)|写道|寫道|"
    r"작성|書きました|のメッセージ|のメール|เขียน"
)
# A header that names a date or an address and ends in the verb and a colon, with at most a
# short tail between them ("schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:", "ezt írta
# (időpont: 2016. okt. 24., H, 15:36):", "skrev Ann <ann@…>:").
_VERB_HEADER = re.compile(r"^.{0,500}?(" + _VERBS + r").{0,160}?[:：]$", re.IGNORECASE)
# Zoho's "---- On Mon, 24 Oct 2016 … Ann <ann@…> wrote ----": the verb ends it, dashes around.
_VERB_LAST = re.compile(r"^.{0,500}?(" + _VERBS + r")$", re.IGNORECASE)
# Older clients' bare "Ann Author wrote:" or "you wrote:" (trusted only right above a quote).
# A name is one to five capitalised words of two letters or more ("As I wrote:" is prose).
_WEAK_HEADER = re.compile(
    r"^(you|\"[^\"]{1,60}\"|[A-ZÀ-ÖØ-Þ][\w.'’-]+(\s[A-ZÀ-ÖØ-Þ][\w.'’-]+){0,4})\s("
    + _VERBS
    + r")\s*[:：]$"
)
# Gmail in languages that lead with the date and have no verb ("пн, 24 окт. 2016 г. в 15:36,
# Иван <ivan@…>:", "2016年10月24日(月) 15:36 Taro <taro@…>:"), an address sometimes never
# closed, or wrapped so that "<" ends a line.
_DATED_ADDRESS = re.compile(
    r"^.{0,200}?\d.{0,300}?<\s?[^<>\s@]{1,100}@[^<>\s]{1,200}?\s?(>|>>)?\s*[:：]$"
)
# "2013/7/20 Ann via Discourse <…>" or "2016-10-24 15:36 GMT+02:00 Ann <ann@…>": led by an
# ISO-like date, no colon (trusted only right above a quote).
_ISO_LED = re.compile(r"^\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\b.{0,300}?(@|\svia\s)")
# Mutt: "* Ann Author <ann@acme.example> [2016-10-24 15:36:00 +0200]:".
_MUTT = re.compile(
    r"^(\*\s)?.{0,200}?<[^<>\s]{1,200}@[^<>\s]{1,200}>\s*\[[^\]]{0,80}\d[^\]]{0,80}\]:$"
)

# GroupWise and Lotus Notes: ">>> Ann Author <ann@acme.example> 24.11.2026 10:02 >>>".
_GROUPWISE = re.compile(r"^\s{0,8}>>>\s.{0,300}?\d.{0,100}?>>>\s*$")
# Help desks' "##- Please type your reply above this line -##" and its kin.
_REPLY_ABOVE = re.compile(r"(reply|write|type)\s.{0,40}above\s(this|the)\sline", re.IGNORECASE)

# "-----Original Message-----", "Begin forwarded message:" and their translations, compared
# once the dashes, stars, underscores and colon around them are stripped.
_SEPARATORS = frozenset(
    s.casefold()
    for s in (
        "Original Message", "Original Mail", "Original", "Reply Message", "Forwarded message",
        "Forwarded Message", "Begin forwarded message", "Ursprüngliche Nachricht",
        "Ursprüngliche E-Mail", "Originalnachricht", "Weitergeleitete Nachricht",
        "Anfang der weitergeleiteten Nachricht", "Message d'origine", "Message original",
        "Message transféré", "Message transmis", "Début du message réexpédié",
        "Début du message transféré", "Mensaje original", "Mensaje reenviado",
        "Comienzo del mensaje reenviado", "Messaggio originale", "Messaggio inoltrato",
        "Inizio messaggio inoltrato", "Oorspronkelijk bericht", "Origineel bericht",
        "Doorgestuurd bericht", "Begin doorgestuurd bericht", "Mensagem original",
        "Mensagem encaminhada", "Início da mensagem reencaminhada", "Ursprungligt meddelande",
        "Vidarebefordrat meddelande", "Vidarebefordrat brev", "Oprindelig meddelelse",
        "Videresendt besked", "Videresendt meddelelse", "Opprinnelig melding",
        "Originalmelding", "Videresendt melding", "Oryginalna wiadomość",
        "Wiadomość oryginalna", "Przekazana wiadomość", "Wiadomość przekazana",
        "Původní zpráva", "Původní e-mail", "Přeposlaná zpráva", "Začátek přeposílané zprávy",
        "Orijinal mesaj", "Orijinal ileti", "İletilen ileti", "Yönlendirilen ileti",
        "Alkuperäinen viesti", "Välitetty viesti", "Eredeti üzenet", "Továbbított üzenet",
        "Исходное сообщение", "Оригинальное сообщение", "Пересылаемое сообщение",
        "Пересланное сообщение", "Начало пересылаемого сообщения", "Вихідне повідомлення",
        "Оригінальне повідомлення", "Переслане повідомлення", "元のメッセージ",
        "転送されたメッセージ", "原始邮件", "原始郵件", "原邮件", "转发的邮件", "轉寄的郵件",
        "以下是转发的邮件", "원본 메시지", "원래 메시지", "전달된 메시지",
    )
)  # fmt: skip
_SEPARATOR_TRIM = " \t*_=-—>:："

# Outlook's header block fields, by the languages it ships in. Sender fields first: a block
# must name the sender.
_FROM_FIELDS = (
    "from|von|de|van|da|från|fra|od|от|від|kimden|lähettäjä|feladó|差出人|发件人|寄件者|寄件人|"
    "보낸 사람|afsender|avsändare|avsender|remitente|mittente|expéditeur|odesílatel"
)
_OTHER_FIELDS = (
    "sent|date|to|cc|bcc|subject|reply-to|gesendet|datum|an|betreff|envoyé|à|a|objet|enviado|"
    "enviada|enviado el|enviada em|fecha|para|asunto|assunto|inviato|data|oggetto|verzonden|"
    "aan|onderwerp|skickat|till|ämne|sendt|til|emne|wysłano|wysłane|do|temat|отправлено|дата|"
    "кому|тема|копия|надіслано|копія|odesláno|komu|předmět|gönderildi|tarih|kime|konu|"
    "lähetetty|vastaanottaja|aihe|päivämäärä|elküldve|címzett|tárgy|送信日時|宛先|件名|日付|"
    "发送时间|时间|日期|收件人|主题|抄送|寄件日期|收件者|主旨|副本|보낸 날짜|받는 사람|제목|참조"
)
_FIELD = re.compile(
    r"^\s{0,8}\*{0,2}\s?(?:(" + _FROM_FIELDS + r")|(" + _OTHER_FIELDS + r"))\s?\*{0,2}\s?[:：]"
    r"(\*{0,2})(\s|$)",
    re.IGNORECASE,
)
_DATE_FIELDS = re.compile(
    r"^\s{0,8}\*{0,2}\s?(sent|date|gesendet|datum|envoyé|enviado|enviada|enviado el|"
    r"enviada em|fecha|inviato|data|verzonden|skickat|sendt|wysłano|wysłane|отправлено|дата|"
    r"надіслано|odesláno|gönderildi|tarih|lähetetty|päivämäärä|elküldve|送信日時|日付|发送时间|"
    r"时间|日期|寄件日期|보낸 날짜)\s?\*{0,2}\s?[:：]",
    re.IGNORECASE,
)

# A rule: a line of one repeated mark ("--", "***", "####", "~~~~", "====", "____"), or Gmail's
# tracking mark "ᐧ" alone on its line.
_RULE = re.compile(r"^\s{0,8}(-{2,}|_{2,}|\*{3,}|#{3,}|~{3,}|={3,}|ᐧ)\s*$")
_LONG_RULE = re.compile(r"^\s{0,8}(-{5,}|_{5,}|—{3,})\s*$")

# "Sent from my iPhone" and the rest of the lines phones and apps sign with.
_NAME = r"[\w .,'’&()+®™-]{1,40}"
_LINK = r"(\s?<https?://[^\s>]{1,300}>)?"
_SENT_FROM = re.compile(
    r"^\s{0,8}(sent from (my )?" + _NAME + r"|sent (via|with|using|by) " + _NAME + r"|"
    r"sent from outlook( mobile| for \w+)?|get outlook for \w+|"
    r"sent from my android device with k-9 mail\. please excuse my brevity\.|"
    r"sent from mail for windows( 10| 11)?|"
    r"von meinem " + _NAME + r" gesendet|gesendet (von|mit) " + _NAME + r"|"
    r"envoyé (de|depuis|avec|à partir de) (mon|ma|l'|un|) ?" + _NAME + r"|"
    r"lähetetty \S{1,30}(sta|stä)|"
    r"enviado (desde|de|do|com|con) (mi|meu|o meu|o|el) ?" + _NAME + r"|"
    r"inviato da(l| il)? (mio )?"
    + _NAME
    + r"|(verzonden|verstuurd) (vanaf|met|van) "
    + _NAME
    + r"|"
    r"skickat från " + _NAME + r"|sendt fra " + _NAME + r"|wysłane z " + _NAME + r"|"
    r"отправлено (с|из) " + _NAME + r"|надіслано з " + _NAME + r"|odesláno z " + _NAME + r"|"
    r"" + _NAME + r"(dan|den|tan|ten) gönderildi|\S{1,30}から送信|发自我的\s?\S{1,30}|"
    r"從我的\s?\S{1,30}\s?傳送|\S{1,30}에서 보냄)\.?" + _LINK + r"\s*$",
    re.IGNORECASE,
)


def classify(lines: list[str]) -> list[str]:
    """One letter per line: e(mpty), t(ext), q(uote), b (a marker: quote header, separator or
    Outlook block, every line of it), d(elimiter) or s(ignature line of a phone or app)."""
    n = len(lines)
    capped = [line[:_LINE_CAP] for line in lines]
    kinds = [_plain_kind(line) for line in capped]
    i = 0
    while i < n:
        span = _marker_span(capped, kinds, i)
        if span:
            for j in range(i, i + span):
                kinds[j] = MARKER
            i += span
        else:
            i += 1
    return kinds


INVISIBLE = " \t\u00a0\u200b\u200c\u200d\u2060\ufeff"


def _plain_kind(line: str) -> str:
    stripped = line.strip().strip(INVISIBLE)
    if not stripped:
        return EMPTY
    if _REPLY_ABOVE.search(stripped):
        return DELIMITER
    if _QUOTE.match(line):
        return QUOTE
    if _RULE.match(line):
        return DELIMITER
    if _SENT_FROM.match(line):
        return SIGNATURE
    return TEXT


def _marker_span(lines: list[str], kinds: list[str], i: int) -> int:
    """How many lines from i make a marker (0: none starts there)."""
    if kinds[i] == EMPTY:
        return 0
    if _GROUPWISE.match(lines[i]):
        return 1
    if _is_separator(lines[i]):
        return 1 + _block_after(lines, i + 1)
    if kinds[i] == DELIMITER and _LONG_RULE.match(lines[i]):
        block = _block_after(lines, i + 1)
        return 1 + block if block else 0
    if kinds[i] in (TEXT, SIGNATURE) and _FIELD.match(lines[i]):
        block = _field_block(lines, i)
        if block:
            return block
    if kinds[i] in (TEXT, QUOTE, DELIMITER):
        return _header_span(lines, kinds, i)
    return 0


def _is_separator(line: str) -> bool:
    raw = line.strip()
    if len(raw) > 80:
        return False
    core = _unquote(raw).strip(_SEPARATOR_TRIM).casefold()
    return core in _SEPARATORS and (raw.startswith(("-", "*", "_", "=")) or raw.endswith(":"))


def _unquote(line: str) -> str:
    return _QUOTE_PREFIX.sub("", line, count=1)


def _header_span(lines: list[str], kinds: list[str], i: int, outer: bool = True) -> int:
    """A quote header starting at line i, over one to four lines: its length, or 0.

    A wrapped header does not start at i when a header that ends on the same line starts on
    the next one ("Thanks!" above "On … wrote:" is not part of it)."""
    if i >= len(lines):
        return 0
    quoted = kinds[i] == QUOTE
    parts: list[str] = []
    for j in range(i, min(i + _HEADER_LINES, len(lines))):
        if kinds[j] == EMPTY or (kinds[j] == QUOTE) != quoted:
            return 0
        part = _unquote(lines[j]).strip() if quoted else lines[j].strip()
        if not part:
            return 0
        parts.append(part[:300])
        weak_allowed = outer and j == i and _quote_follows(kinds, j)
        if _is_header(" ".join(parts).strip(" *_"), lines[i].lstrip(), weak_allowed):
            if j > i and outer and not _starts_header(parts[0], lines, kinds, i, j):
                return 0
            return j - i + 1
    return 0


def _is_header(candidate: str, raw_first: str, weak_allowed: bool) -> bool:
    last = candidate[-1:]
    if last in ":：":
        if (_has_digit(candidate) or "@" in candidate) and _VERB_HEADER.match(candidate):
            return True
        if _DATED_ADDRESS.match(candidate) or _MUTT.match(candidate):
            return True
        return weak_allowed and _WEAK_HEADER.match(candidate) is not None
    if raw_first.startswith("--") and candidate.endswith("-"):
        core = candidate.strip(" -")
        return _has_digit(core) and _VERB_LAST.match(core) is not None
    return weak_allowed and _ISO_LED.match(candidate) is not None


def _starts_header(first: str, lines: list[str], kinds: list[str], i: int, j: int) -> bool:
    """Whether a header wrapped over lines i..j really starts at i: its first line names a date
    or an address, and it is not the end of a sentence above a header that starts below."""
    if not (_has_digit(first) or "@" in first or "<" in first):
        return False
    return not (_ends_sentence(first) and _header_span(lines, kinds, i + 1, outer=False) == j - i)


def _ends_sentence(line: str) -> bool:
    return line[-1:] in ".!?,;)。！？" or (line.endswith(":") and not line.endswith("mailto:"))


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def _quote_follows(kinds: list[str], j: int) -> bool:
    """The first non-empty line after j is a quote (looked for over a few lines)."""
    for k in range(j + 1, min(j + 4, len(kinds))):
        if kinds[k] != EMPTY:
            return kinds[k] == QUOTE
    return False


def _block_after(lines: list[str], start: int) -> int:
    """An Outlook field block right under a separator or rule (one blank line allowed)."""
    for skip in range(0, 3):
        j = start + skip
        if j >= len(lines):
            return 0
        if lines[j].strip():
            block = _field_block(lines, j)
            return skip + block if block else 0
    return 0


def _field_block(lines: list[str], i: int) -> int:
    """Outlook's "From: / Sent: / To: / Subject:" block from line i: its length, or 0.

    It must name the sender and either the date or two more fields; a long "To:" may wrap.
    """
    fields, senders, dated, end, wrapped = 0, 0, False, i, 0
    for j in range(i, min(i + _BLOCK_LINES, len(lines))):
        line = lines[j]
        if not line.strip():
            break
        m = _FIELD.match(line)
        if m:
            fields += 1
            senders += m.group(1) is not None
            dated = dated or _DATE_FIELDS.match(line) is not None
            end, wrapped = j + 1, 0
        elif fields and wrapped < 2:
            wrapped += 1
            end = j + 1
        else:
            break
    if senders and (fields >= 3 or (fields == 2 and dated)):
        return end - i
    return 0
