"""Replies from each common client: the new text kept, the quoted history set apart.

Each HTML body has the shape that client produces (markers as they appear in real mail).
"""

from __future__ import annotations

import pytest

from mailhub.content.parse import ParsedMail
from mailhub.content.reply import reply_content
from mailhub.content.trim import split_reply

QUOTE_TEXT = "The Q3 pipeline review is on Thursday."

HTML_REPLIES = {
    "gmail": (
        '<div dir="ltr">Count me in.</div><br><div class="gmail_quote gmail_quote_container">'
        '<div dir="ltr" class="gmail_attr">On Tue, Nov 24, 2026 at 10:02 AM Ann &lt;ann@acme.example&gt; wrote:<br></div>'
        f'<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">{QUOTE_TEXT}</blockquote></div>'
    ),
    "outlook_web": (
        '<div style="font-family: Aptos, sans-serif;">Count me in.</div>'
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>From:</b> Ann &lt;ann@acme.example&gt;<br>'
        f"<b>Sent:</b> Tuesday, November 24, 2026 10:02<br></font></div><div>{QUOTE_TEXT}</div>"
    ),
    "outlook_desktop": (
        '<div class="WordSection1"><p class="MsoNormal">Count me in.<o:p></o:p></p>'
        '<div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        '<p class="MsoNormal"><b>From:</b> Ann &lt;ann@acme.example&gt;<br><b>Sent:</b> Tuesday</p></div></div>'
        f'<p class="MsoNormal">{QUOTE_TEXT}</p></div>'
    ),
    "apple_mail": (
        '<html><body dir="auto"><div>Count me in.</div><div><br><blockquote type="cite">'
        f"<div>On 24. Nov 2026, at 10:02, Ann &lt;ann@acme.example&gt; wrote:</div><div>{QUOTE_TEXT}</div>"
        "</blockquote></div></body></html>"
    ),
    "thunderbird": (
        "<html><body><p>Count me in.</p>"
        '<div class="moz-cite-prefix">On 24/11/2026 10:02, Ann wrote:<br></div>'
        f'<blockquote type="cite" cite="mid:x@acme.example">{QUOTE_TEXT}</blockquote></body></html>'
    ),
    "yahoo": (
        '<div class="ydp1"><div>Count me in.</div></div><div id="yahoo_quoted_1234" class="yahoo_quoted">'
        f"<div>On Tuesday, November 24, 2026, 10:02, Ann &lt;ann@acme.example&gt; wrote:</div><div>{QUOTE_TEXT}</div></div>"
    ),
    "protonmail": (
        "<div>Count me in.</div><div><br></div>"
        '<div class="protonmail_quote">On Tuesday, November 24th, 2026 at 10:02, Ann wrote:<br>'
        f'<blockquote class="protonmail_quote">{QUOTE_TEXT}</blockquote></div>'
    ),
}


def _mail(html: str = "", text: str = "") -> ParsedMail:
    return ParsedMail(
        subject="Re: x",
        from_addr="bob@acme.example",
        from_name="Bob",
        message_id="<m@x>",
        in_reply_to="",
        references=[],
        text=text,
        html=html,
    )


@pytest.mark.parametrize("client", sorted(HTML_REPLIES))
def test_html_replies_from_each_client(client: str) -> None:
    reply = reply_content(_mail(html=HTML_REPLIES[client]))
    assert reply.body_text == "Count me in."
    assert QUOTE_TEXT not in reply.body_html
    assert QUOTE_TEXT in reply.trimmed


def test_html_reply_signature_is_set_apart_too() -> None:
    html = '<div>Count me in.<br><br>Sent from my iPhone</div><div class="gmail_quote">old</div>'
    reply = reply_content(_mail(html=html))
    assert reply.body_text == "Count me in." and "Sent from my iPhone" in reply.trimmed


def test_html_without_markers_falls_back_to_the_text_part() -> None:
    text = "Count me in.\n\nOn Tue, Nov 24, 2026 at 10:02 AM Ann <ann@acme.example> wrote:\n> old\n"
    reply = reply_content(
        _mail(html="<div>Count me in.</div><div>quoted without markers</div>", text=text)
    )
    assert reply.body_text == "Count me in." and "> old" in reply.trimmed


@pytest.mark.parametrize(
    "header",
    [
        "On Tue, Nov 24, 2026 at 10:02 AM Ann Author <ann@acme.example> wrote:",
        "Am Di., 24. Nov. 2026 um 10:02 Uhr schrieb Ann Author <ann@acme.example>:",
        "Le mar. 24 nov. 2026 à 10:02, Ann Author <ann@acme.example> a écrit :",
        "El mar, 24 nov 2026 a las 10:02, Ann Author (<ann@acme.example>) escribió:",
        "Il giorno mar 24 nov 2026 alle ore 10:02 Ann Author <ann@acme.example> ha scritto:",
        "Em ter., 24 de nov. de 2026 às 10:02, Ann Author <ann@acme.example> escreveu:",
        "Op di 24 nov 2026 om 10:02 schreef Ann Author <ann@acme.example>:",
        "W dniu wt., 24.11.2026 o 10:02 Ann Author <ann@acme.example> napisał(a):",
        "Den tir. 24. nov. 2026 kl. 10.02 skrev Ann Author <ann@acme.example>:",
        "Den tis 24 nov. 2026 kl 10:02 skrev Ann Author <ann@acme.example>:",
        "tir. 24. nov. 2026 kl. 10:02 skrev Ann Author <ann@acme.example>:",
        "2026年11月24日(火) 10:02 Ann Author <ann@acme.example>:",
        "2026/11/24 10:02、Ann Author <ann@acme.example>のメッセージ:",
        "Ann Author <ann@acme.example> 于2026年11月24日周二 10:02写道：",
    ],
)
def test_quote_headers_in_many_languages(header: str) -> None:
    reply = split_reply(f"Count me in.\n\n{header}\n> {QUOTE_TEXT}\n")
    assert reply.body == "Count me in."
    assert QUOTE_TEXT in reply.trimmed


def test_a_header_wrapped_over_two_lines() -> None:
    text = (
        "Count me in.\n\nAm Di., 24. Nov. 2026 um 10:02 Uhr schrieb Ann Author <\n"
        f"ann@acme.example>:\n\n> {QUOTE_TEXT}\n"
    )
    assert split_reply(text).body == "Count me in."


def test_format_flowed_paragraphs_are_joined() -> None:
    from mailhub.content.parse import parse_message

    raw = (
        b"From: ann@acme.example\r\nTo: sales@acme.example\r\nSubject: flowed\r\n"
        b"Content-Type: text/plain; charset=utf-8; format=flowed; delsp=no\r\n\r\n"
        b"This paragraph was wrapped by Thunderbird at seventy-two \r\ncharacters and should be one "
        b"\r\nline again.\r\n\r\n> A quoted line that \r\n> continues here.\r\n\r\n"
        b" >From a space-stuffed line\r\n-- \r\nAnn\r\n"
    )
    text = parse_message(raw).text
    assert (
        "This paragraph was wrapped by Thunderbird at seventy-two characters and should be one line again."
        in text
    )
    assert "> A quoted line that continues here." in text
    assert ">From a space-stuffed line" in text and "\n-- \nAnn" in text


def test_format_flowed_with_delsp() -> None:
    from mailhub.content.parse import unflow

    assert unflow("Hallo Wel \nt!\n", delsp=True) == "Hallo Welt!\n"


def test_calendar_invitations_become_a_readable_summary() -> None:
    from mailhub.content.parse import parse_message
    from mailhub.mailboxes.pages import body_of

    from helpers import fixture

    parsed = parse_message(fixture("invitation_outlook.eml"))
    assert parsed.calendar.splitlines() == [
        "Calendar invitation: Q3 pipeline review, all regions",
        "When: 2026-11-26 10:00 (W. Europe Standard Time) – 2026-11-26 11:30 (W. Europe Standard Time)",
        "Where: Room Ölberg / Teams meeting with a very long description that wraps",
        "Organizer: Ann Author <ann@acme.example>",
    ]
    html, text = body_of(parsed)
    assert (
        text.startswith("Calendar invitation: Q3 pipeline review")
        and "review the Q3 pipeline" in text
    )
    assert '<div class="calendar">' in html
    assert [f.filename for f in parsed.files] == ["invitation.ics"]  # the .ics stays attached


def test_remote_images_only_from_allowed_hosts() -> None:
    from mailhub.content.sanitize import clean_html

    html = (
        '<img src="https://tracker.example/p.gif"><img src="https://img.intranet.acme.example/chart.png">'
        '<img src="http://img.intranet.acme.example/plain.png"><img src="https://intranet.acme.example.evil.example/x.png">'
    )
    hosts = frozenset({"intranet.acme.example"})
    cleaned = clean_html(html, hosts)
    assert 'src="https://img.intranet.acme.example/chart.png"' in cleaned
    for blocked in ("tracker.example", "plain.png", "evil.example"):
        assert blocked not in cleaned
    assert "https://" not in clean_html(html)  # nothing allowed by default
    # A blocked image, or a pixel-sized one even from an allowed host, leaves no <img> at all
    assert cleaned.count("<img") == 1
    pixel = '<p>Hi<img src="https://img.intranet.acme.example/open.gif" width="1" height="1"></p>'
    assert clean_html(pixel, hosts) == "<p>Hi</p>"
    assert clean_html('<img alt="logo" src="https://tracker.example/l.png">') == ""
